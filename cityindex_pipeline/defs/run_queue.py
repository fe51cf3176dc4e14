"""The instance's run coordinator: Dagster's run queue, with each backfill run named by its month.

A backfill creates one run per month, in month order (`partitions.one_month_per_run`), and the queue
runs them one at a time, first in first out (`cli/instance.py`). Dagster names the month of such a
run by a partition range of one month (`dagster/asset_partition_range_start` = `..._end`), and a
step of a range run records its check results without a partition: the gate, the report and the
UI's per-month check history would not see them. A run whose range is one month is tagged with that
month (`dagster/partition`) as it is queued, as a run of one month launched by hand is. A backfill
launched without a title (the UI's default) is given one as its first run is queued, naming its
months (`core.months.backfill_title`, as `cityindex backfill` titles its own); the daemon that
queues the run reads the backfill again before it next writes it, so the title stays.

Dagster's backfill daemon looks at its backfills every 30 s, a constant of the daemon
(`DEFAULT_DAEMON_INTERVAL_SECONDS`; dagster-io/dagster#11649), so a backfill waited up to 30 s
before its first run was queued and up to 30 s after its last run before it was marked done. The
coordinator's one setting of its own, `backfill_daemon_interval_seconds` (default 2), sets that
interval: the daemon process makes its instance, and so this coordinator, before its backfill loop
starts and reads the constant. Each look is two queries when no backfill is in progress.
`dagster.yaml` names this class (`cityindex_pipeline.defs.run_queue`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import Field, IntSource
from dagster._config.config_schema import UserConfigSchema
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    PARTITION_NAME_TAG,
)
from dagster._daemon import controller as daemon_controller
from dagster._serdes import ConfigurableClassData

from cityindex_pipeline.core.months import Month, backfill_title


def month_of_range(tags: dict[str, str]) -> str | None:
    """The partition a run's one-partition range names, or None (a run of a partition, of several
    partitions, or of none)."""
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if PARTITION_NAME_TAG in tags or start is None or start != end:
        return None
    return start


BACKFILL_DAEMON_INTERVAL_SECONDS = 2
"""How often the backfill daemon looks at backfills, unless `dagster.yaml` says otherwise."""


def set_backfill_daemon_interval(seconds: int) -> None:
    """Make the backfill daemon of this process look at its backfills every `seconds`. Takes effect
    for a daemon loop that starts after it (the loop reads the interval once, as it starts)."""
    if seconds < 1:
        raise ValueError(f"backfill_daemon_interval_seconds must be at least 1, not {seconds}")
    daemon_controller.DEFAULT_DAEMON_INTERVAL_SECONDS = seconds


class MonthRunCoordinator(QueuedRunCoordinator):
    """`QueuedRunCoordinator` (same configuration, plus `backfill_daemon_interval_seconds`) that tags
    a one-month range run with its month."""

    def __init__(self, backfill_daemon_interval_seconds: int | None = None, **queue_settings: Any) -> None:
        super().__init__(**queue_settings)
        self.backfill_daemon_interval_seconds = (
            BACKFILL_DAEMON_INTERVAL_SECONDS
            if backfill_daemon_interval_seconds is None
            else backfill_daemon_interval_seconds
        )
        set_backfill_daemon_interval(self.backfill_daemon_interval_seconds)

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        return {
            **QueuedRunCoordinator.config_type(),
            "backfill_daemon_interval_seconds": Field(
                config=IntSource,
                is_required=False,
                description="How often, in seconds, the backfill daemon looks at backfills: when a "
                "new one starts its runs, and when a finished one is marked done. Dagster's own is "
                f"30; defaults to {BACKFILL_DAEMON_INTERVAL_SECONDS}.",
            ),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> MonthRunCoordinator:
        queue_settings = {key: config_value.get(key) for key in QueuedRunCoordinator.config_type()}
        return cls(
            backfill_daemon_interval_seconds=config_value.get("backfill_daemon_interval_seconds"),
            inst_data=inst_data,
            **queue_settings,
        )

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        if BACKFILL_ID_TAG in run.tags:
            self._title_backfill(run.tags[BACKFILL_ID_TAG])
        month = month_of_range(dict(run.tags))
        if month is not None:
            self._instance.add_run_tags(run.run_id, {PARTITION_NAME_TAG: month})
            tagged = self._instance.get_run_by_id(run.run_id)
            if tagged is not None:
                context = SubmitRunContext(tagged, context.workspace)
        return super().submit_run(context)

    def _title_backfill(self, backfill_id: str) -> None:
        """Give an untitled backfill the title of its months; a titled one is left as it is."""
        backfill = self._instance.get_backfill(backfill_id)
        if backfill is None or backfill.title:
            return
        keys = backfill_partition_keys(backfill)
        if keys:
            self._instance.update_backfill(backfill._replace(title=backfill_title(map(Month.parse, keys))))


def backfill_partition_keys(backfill: Any) -> set[str]:
    """The partitions a backfill targets: a job backfill's names, or an asset backfill's partitions."""
    if backfill.partition_names:
        return set(backfill.partition_names)
    data = backfill.asset_backfill_data
    if data is None:
        return set()
    return {key.partition_key for key in data.target_subset.iterate_asset_partitions() if key.partition_key}
