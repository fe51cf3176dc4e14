"""The one partitioning of the graph: calendar months, Beijing time, from the first month of coverage,
each month a partition once it has settled."""

import warnings
from datetime import UTC, datetime

import dagster as dg

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.variables import first_month_from_env, publication_delay_days_from_env

# Backfill policies are a beta parameter of `@asset` in Dagster 1.13, used deliberately: say so once here.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


def monthly_partitions(first_month: Month, publication_delay_days: int) -> dg.MonthlyPartitionsDefinition:
    """A partition per month from `first_month`, each once it has settled: Dagster adds month M when
    its next month's day 1 + `publication_delay_days` begins (00:00 Beijing time), the instant
    `quality/settling.publishable_from` names, so "Latest" and the partition bar never hold a month
    the `month_has_settled` gate would refuse. Keys look like `2024-09-01`."""
    return dg.MonthlyPartitionsDefinition(
        start_date=first_month.partition_key,
        day_offset=1 + publication_delay_days,
        fmt="%Y-%m-01",
        timezone="Asia/Shanghai",
    )


monthly = monthly_partitions(first_month_from_env(), publication_delay_days_from_env())
"""From `CITYINDEX_FIRST_MONTH` (default 2024-07, the first month of the shipped demo) and
`CITYINDEX_PUBLICATION_DELAY_DAYS` (default 5) as the process that loads the code location sees
them: a month before the first one is no partition, so the UI never offers one the history rule
would refuse, and nor is a month that has not settled. To extend history backwards, set the first
month earlier and restart `cityindex dev` (docs/operating.md, "The first month of coverage")."""


def is_partition(
    month: Month, partitions: dg.MonthlyPartitionsDefinition = monthly, now: datetime | None = None
) -> bool:
    """Whether `month` is a partition of the graph at `now` (default: the present): on or after the
    first month, and settled."""
    now = now or datetime.now(UTC)
    return month.partition_key in partitions.get_partition_keys(current_time=now)


one_month_per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
"""A backfill runs each month in a run of its own, the whole month's graph in it, and creates the runs
in month order (without a policy Dagster creates them in no set order). The run queue runs them one
at a time, first in first out, so month N-1 has finished before month N starts: the order that
month N's reads of N-1 (follower growth, score and rank changes, the carried panel) need, which the
history checks (`previous_month_computed`) enforce. Those reads are deliberately not declared as
Dagster dependencies on the previous partition: Dagster would then hold every month's self-dependent
assets for a backfill daemon tick each (30 s), a staircase of runs that made a backfill 4.7 times
slower than the same months run in sequence."""
