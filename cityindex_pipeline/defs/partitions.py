"""The one partitioning of the graph: calendar months, Beijing time, from the first month of coverage."""

import warnings

import dagster as dg

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.variables import first_month_from_env

# Backfill policies are a beta parameter of `@asset` in Dagster 1.13, used deliberately: say so once here.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


def monthly_partitions(first_month: Month) -> dg.MonthlyPartitionsDefinition:
    """A partition per month from `first_month`, each once it has closed in Beijing; keys look like
    `2024-09-01`."""
    return dg.MonthlyPartitionsDefinition(start_date=first_month.partition_key, timezone="Asia/Shanghai")


monthly = monthly_partitions(first_month_from_env())
"""From `CITYINDEX_FIRST_MONTH` (default 2024-07, the first month of the shipped demo) as the process
that loads the code location sees it: a month before it is no partition, so the UI never offers
one the history rule would refuse. To extend history backwards, set the variable earlier and
restart `cityindex dev` (docs/operating.md, "The first month of coverage")."""

one_month_per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
"""A backfill runs each month in a run of its own, the whole month's graph in it, and creates the runs
in month order (without a policy Dagster creates them in no set order). The run queue runs them one
at a time, first in first out, so month N-1 has finished before month N starts: the order that
month N's reads of N-1 (follower growth, score and rank changes, the carried panel) need, which the
history checks (`previous_month_computed`) enforce. Those reads are deliberately not declared as
Dagster dependencies on the previous partition: Dagster would then hold every month's self-dependent
assets for a backfill daemon tick each (30 s), a staircase of runs that made a backfill 4.7 times
slower than the same months run in sequence."""
