"""The calendar month, the unit of everything: partitions, attribution windows, tables."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
"""China has kept UTC+8 without daylight saving since 1991: a fixed offset is exact."""

_MONTH_TEXT = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1-12, got {self.month}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """Accept `YYYY-MM` (the CLI form) or `YYYY-MM-01` (the partition key)."""
        match = _MONTH_TEXT.match(text.strip())
        if not match:
            raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def from_partition_key(cls, key: str) -> Month:
        return cls.parse(key)

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def range(cls, first: Month, last: Month) -> list[Month]:
        """The consecutive months from `first` to `last`, both included; none when `last` is before `first`."""
        return [first.shift(i) for i in range(last.months_since(first) + 1)]

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def partition_key(self) -> str:
        return self.first_day.isoformat()

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def months_since(self, other: Month) -> int:
        return (self.year - other.year) * 12 + (self.month - other.month)

    @property
    def days(self) -> int:
        return (self.next().first_day - self.first_day).days

    @property
    def start_utc(self) -> datetime:
        """The month opens at 00:00 Beijing time on its first day (16:00 UTC the day before)."""
        return datetime.combine(self.first_day, datetime.min.time(), BEIJING).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        """Exclusive end of the window: 00:00 Beijing time on the next month's first day."""
        return self.next().start_utc

    def contains(self, moment: datetime) -> bool:
        """True when an aware timestamp falls inside the month, Beijing time."""
        return self.start_utc <= moment < self.end_utc


def previous_month_read(month: Month, first_month: Month) -> Month | None:
    """The month whose rows `month` reads as its previous month (follower growth, score and rank
    changes, a carried panel): the month before it, except in the first month of coverage (and before
    it, which is refused), which reads none even if such rows exist: a month's numbers must not depend
    on which months were computed before it."""
    return month.previous() if month > first_month else None


def backfill_title(months: Iterable[Month]) -> str:
    """The title a backfill of `months` carries in the UI's list of backfills (the CLI's and the UI's
    alike): `cityindex 2024-07..2024-09 (3 months)`, or the months listed when they are not
    consecutive; at most Dagster's 100 characters."""
    chosen = sorted(set(months))
    if not chosen:
        raise ValueError("a backfill has at least one month")
    count = f"({len(chosen)} month{'s' if len(chosen) > 1 else ''})"
    if chosen == Month.range(chosen[0], chosen[-1]):
        span = str(chosen[0]) if len(chosen) == 1 else f"{chosen[0]}..{chosen[-1]}"
        return f"cityindex {span} {count}"
    listed = f"cityindex {', '.join(map(str, chosen))} {count}"
    if len(listed) <= 100:
        return listed
    return f"cityindex {chosen[0]}, ... {chosen[-1]} {count}"
