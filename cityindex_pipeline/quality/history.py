"""The history rule: a month's numbers must not depend on the order months were computed in.

Month N reads month N-1 (follower growth, score and rank changes, a carried panel), so N computed
with N-1 in the warehouse and N computed without it would publish different numbers from the same
source and method. The first month of coverage (`CITYINDEX_FIRST_MONTH`) reads no previous month at
all; every later month requires N-1 computed, and a month before the first month is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.variables import FIRST_MONTH_VARIABLE
from cityindex_pipeline.quality.findings import Finding

REQUIRED_PREVIOUS_TABLES = ("clean.account_metrics", "idx.comprehensive_index")
"""The tables of N-1 that must hold rows before N is computed: followers (follower growth) and the
index (score and rank change, which the published content carries)."""

READ_BY_ASSET = {
    "clean_account_metrics": ("clean.account_metrics",),
    "comprehensive_index": ("idx.comprehensive_index",),
}
"""Which of them each asset's check requires: the one it reads. A backfill runs whole months one
after the other (`defs/partitions.one_month_per_run`); each check still asks only for what its own
asset reads, so that re-running one layer of N (the panel re-publish) needs no more of N-1 than it uses."""


def previous_month_computed(
    month: Month,
    first_month: Month,
    previous_rows: Mapping[str, int],
    tables: tuple[str, ...] = REQUIRED_PREVIOUS_TABLES,
) -> Finding:
    """Month N may be computed: it is the first month of coverage, or a later month whose N-1 has rows
    in every table of `tables` (`previous_rows`: N-1's row count of each)."""
    previous = month.previous()
    facts = {"month": str(month), "first_month": str(first_month), "previous_month": str(previous)}
    if month == first_month:
        return Finding(
            True,
            0,
            detail=f"{month} is the first month of coverage ({FIRST_MONTH_VARIABLE}): it reads no "
            "previous month (follower growth, score and rank changes are null)",
            extra=facts,
        )
    if month < first_month:
        return _refused(
            facts,
            f"{month} is before the first month of coverage, {first_month} ({FIRST_MONTH_VARIABLE}).",
            f"to extend the history backwards, set {FIRST_MONTH_VARIABLE}={month} (or earlier) and compute "
            f"from there in order: `cityindex materialize --month {month} --to {first_month}` and on; the "
            f"later months then publish new versions, because their changes now have a previous month",
        )
    missing = [table for table in tables if not previous_rows.get(table, 0)]
    if missing:
        return _refused(
            {**facts, "previous_month_missing": missing},
            f"{month} needs {previous} computed first: {previous} has no rows in {', '.join(missing)}.",
            f"compute {previous} first: `cityindex materialize --month {previous}`, or a backfill from "
            f"the first month ({first_month}); or set {FIRST_MONTH_VARIABLE}={month} if {month} is your "
            "first month of data",
        )
    counts = ", ".join(f"{previous_rows[table]} rows of {table}" for table in tables)
    return Finding(True, 0, detail=f"{month} reads {previous}: {counts}", extra=facts)


def _refused(facts: dict[str, object], what: str, fix: str) -> Finding:
    return Finding(False, 1, [facts], detail=what, fix=f"{fix[0].upper()}{fix[1:]}.", extra=facts)


def refusal(finding: Finding) -> str:
    """The rule's refusal as one sentence for the command line: what is wrong, then what to do."""
    return f"{finding.detail} {finding.fix}"
