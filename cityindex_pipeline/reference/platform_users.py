"""Each platform's global user scale as a time series: reported figures with their sources, and the
figure a month uses (the user-scale criterion of the platform weights from methodology 0.5.0).

Platforms report monthly active users irregularly (quarterly results, statements, advertising
reach), and some stopped reporting. `platform_users.csv` keeps every figure with the date it is as
of and its source; a month takes the figure of its own month if there is one, the straight line
between the figures either side of it otherwise (by month), and the nearest figure, held flat, before
the first or after the last. The month records which figures it used and how (`users_basis`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.reference.registry import DATA_DIR

DEFAULT_PLATFORM_USERS = DATA_DIR / "platform_users.csv"
COLUMNS = ("platform", "as_of", "monthly_active_users_millions", "source", "verified")


class PlatformUsersError(ValueError):
    """The user series is unusable; the message names the file and the line."""


@dataclass(frozen=True)
class UsersInMonth:
    """A platform's user scale for one month and how it was obtained from the series."""

    platform: str
    monthly_active_users_millions: float
    users_basis: str


def load_platform_users(path: Path = DEFAULT_PLATFORM_USERS) -> pl.DataFrame:
    """The series, typed and checked: every platform present, positive figures, one per platform and
    month, each with a source."""
    frame = pl.read_csv(path, infer_schema=False)
    if tuple(frame.columns) != COLUMNS:
        raise PlatformUsersError(f"{path.name}: columns must be {COLUMNS}, got {tuple(frame.columns)}")
    typed = frame.with_columns(
        pl.col("as_of").str.to_date("%Y-%m-%d", strict=False),
        pl.col("monthly_active_users_millions").cast(pl.Float64, strict=False),
    )
    for line, (raw, row) in enumerate(
        zip(frame.iter_rows(named=True), typed.iter_rows(named=True), strict=True), start=2
    ):
        where = f"{path.name} line {line} ({raw['platform']}, {raw['as_of']})"
        if row["platform"] not in PLATFORMS:
            raise PlatformUsersError(f"{where}: unknown platform; expected one of {PLATFORMS}")
        if row["as_of"] is None:
            raise PlatformUsersError(f"{where}: as_of must be a date YYYY-MM-DD")
        if row["monthly_active_users_millions"] is None or row["monthly_active_users_millions"] <= 0:
            raise PlatformUsersError(f"{where}: monthly_active_users_millions must be a positive number")
        if not (row["source"] or "").strip():
            raise PlatformUsersError(f"{where}: every figure needs its source")
        if row["verified"] not in ("yes", "no"):
            raise PlatformUsersError(f"{where}: verified must be yes or no")
    missing = sorted(set(PLATFORMS) - set(typed["platform"]))
    if missing:
        raise PlatformUsersError(f"{path.name}: no figure for {missing}")
    months = typed.with_columns(pl.col("as_of").dt.truncate("1mo").alias("_month"))
    repeated = months.filter(pl.struct("platform", "_month").is_duplicated())
    if repeated.height:
        first = repeated.row(0, named=True)
        raise PlatformUsersError(
            f"{path.name}: {first['platform']} has two figures in {first['_month']:%Y-%m}; keep one per month"
        )
    return typed.sort("platform", "as_of")


def users_in_month(series: pl.DataFrame, month: Month) -> list[UsersInMonth]:
    """Each platform's user scale in `month`, in platform order (see the module's rule)."""
    return [_one(series.filter(platform=platform), platform, month) for platform in PLATFORMS]


def _index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _one(points: pl.DataFrame, platform: str, month: Month) -> UsersInMonth:
    here = _index(month.first_day)
    rows = [
        (_index(row["as_of"]), row["as_of"], row["monthly_active_users_millions"])
        for row in points.iter_rows(named=True)
    ]
    before = [r for r in rows if r[0] <= here]
    after = [r for r in rows if r[0] >= here]
    if before and after and before[-1][0] == after[0][0]:
        _, as_of, value = before[-1]
        return UsersInMonth(platform, value, f"{value:g} as of {as_of}")
    if before and after:
        (i0, d0, v0), (i1, d1, v1) = before[-1], after[0]
        value = v0 + (v1 - v0) * (here - i0) / (i1 - i0)
        return UsersInMonth(platform, value, f"interpolated between {v0:g} as of {d0} and {v1:g} as of {d1}")
    if before:
        _, as_of, value = before[-1]
        return UsersInMonth(platform, value, f"{value:g} as of {as_of}, held (no later figure)")
    _, as_of, value = after[0]
    return UsersInMonth(platform, value, f"{value:g} as of {as_of}, held (no earlier figure)")


def users_frame(series: pl.DataFrame, month: Month) -> pl.DataFrame:
    """`users_in_month` as columns to join onto the month's platform reference."""
    figures = users_in_month(series, month)
    return pl.DataFrame(
        {
            "platform": [f.platform for f in figures],
            "monthly_active_users_month": [f.monthly_active_users_millions for f in figures],
            "users_basis": [f.users_basis for f in figures],
        }
    )
