"""The instance's run coordinator: Dagster's run queue, with each backfill run named by its month.

A backfill creates one run per month, in month order (`partitions.one_month_per_run`), and the queue
runs them one at a time, first in first out (`cli/instance.py`). Dagster names the month of such a
run by a partition range of one month (`dagster/asset_partition_range_start` = `..._end`), and a
step of a range run records its check results without a partition: the gate, the report and the
UI's per-month check history would not see them. A run whose range is one month is tagged with that
month (`dagster/partition`) as it is queued, as a run of one month launched by hand is; nothing
else changes. `dagster.yaml` names this class (`cityindex_pipeline.defs.run_queue`).
"""

from __future__ import annotations

from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)


def month_of_range(tags: dict[str, str]) -> str | None:
    """The partition a run's one-partition range names, or None (a run of a partition, of several
    partitions, or of none)."""
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if PARTITION_NAME_TAG in tags or start is None or start != end:
        return None
    return start


class MonthRunCoordinator(QueuedRunCoordinator):
    """`QueuedRunCoordinator` (same configuration) that tags a one-month range run with its month."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        month = month_of_range(dict(run.tags))
        if month is not None:
            self._instance.add_run_tags(run.run_id, {PARTITION_NAME_TAG: month})
            tagged = self._instance.get_run_by_id(run.run_id)
            if tagged is not None:
                context = SubmitRunContext(tagged, context.workspace)
        return super().submit_run(context)
