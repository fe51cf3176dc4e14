"""The month-settled rule: a month is published only once it has closed and its settling days passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
