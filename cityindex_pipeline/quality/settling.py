"""The month-settled rule: a month is published only once it has closed and its settling days passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.quality.findings import Finding

DEFAULT_SETTLING_DAYS = 5


def publishable_from(month: Month, settling_days: int) -> datetime:
    """When a month may be published: its close (Beijing time) plus the settling days, in UTC."""
    return month.end_utc + timedelta(days=settling_days)


def month_settled(month: Month, now: datetime, settling_days: int = DEFAULT_SETTLING_DAYS) -> Finding:
    """A month is published only once it has closed and settled (late counts and deliveries arrive)."""
    opens = publishable_from(month, settling_days)
    now = now.astimezone(UTC)
    detail = (
        f"{month} closed {month.end_utc.isoformat()}; with {settling_days} settling days it is "
        f"publishable from {opens.isoformat()}; now {now.isoformat()}"
    )
    if now >= opens:
        return Finding(True, 0, [], detail, extra={"publishable_from": opens.isoformat()})
    return Finding(
        False,
        1,
        [{"month": str(month), "publishable_from": opens.isoformat(), "now": now.isoformat()}],
        detail,
        fix=f"wait until {opens.isoformat()} and re-run the month (CITYINDEX_PUBLICATION_DELAY_DAYS sets the days)",
        extra={"publishable_from": opens.isoformat()},
    )


BEIJING = ZoneInfo("Asia/Shanghai")


def publication_deadline(month: Month, schedule_day: int) -> datetime:
    """When a month's publication is due: the end of the schedule's day of the next month, Beijing
    time (the freshness policy of `published_index`), in UTC."""
    following = month.next()
    due = datetime(following.year, following.month, schedule_day, 23, 59, 59, tzinfo=BEIJING)
    return due.astimezone(UTC)


def months_published_on_time(
    first_month: Month, now: datetime, schedule_day: int, published: set[Month]
) -> Finding:
    """Every month from the first month of coverage to the latest published one whose deadline has
    passed has a publication: a gap in the history is named, with its deadline. Months after the
    latest publication that are past their deadline are counted in the detail (`due_after_latest`),
    not failed: Dagster's freshness policy on `published_index` flags the newest month overdue, and a
    history that simply stops (the shipped demo ends in September 2024) is not a gap."""
    latest = max(published, default=None)
    due, late, after = [], [], []
    month = first_month
    while publication_deadline(month, schedule_day) <= now:
        due.append(month)
        if month not in published:
            entry = {"month": str(month), "due": publication_deadline(month, schedule_day).isoformat()}
            (late if latest is not None and month < latest else after).append(entry)
        month = month.next()
    detail = (
        f"{len(due)} months due by {now.astimezone(UTC).isoformat()} (from {first_month}, each by day "
        f"{schedule_day} of the next month, Beijing time), latest published {latest or 'none'}: "
        + (
            f"{len(late)} late: {', '.join(m['month'] for m in late[:12])}"
            if late
            else "no month missing before it"
        )
        + (f"; {len(after)} due after it, from {after[0]['month']}" if after else "")
    )
    return Finding(
        passed=not late,
        failed_rows=len(late),
        sample=late[:5],
        detail=detail,
        fix="materialise the late months in order (a backfill from the first late month, or `cityindex "
        "materialize --month <first late> --to <last>`); each month's run says what stops it"
        if late
        else "",
        extra={"late_months": [m["month"] for m in late], "due_after_latest": [m["month"] for m in after]},
    )
