"""The platform user series: every figure sourced, and the figure a month takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.reference.platform_users import (
    PlatformUsersError,
    load_platform_users,
    users_frame,
    users_in_month,
)

HEADER = "platform,as_of,monthly_active_users_millions,source,verified\n"
OTHERS = "".join(f"{p},2024-01-31,100,a report,no\n" for p in PLATFORMS if p != "x")


def series(tmp_path: Path, x_rows: str) -> Path:
    path = tmp_path / "platform_users.csv"
    path.write_text(HEADER + OTHERS + x_rows, encoding="utf-8")
    return path


def test_the_shipped_series_covers_every_platform_with_a_source_for_each_figure():
    shipped = load_platform_users()
    assert set(shipped["platform"]) == set(PLATFORMS)
    assert shipped["source"].str.len_chars().min() > 10
    frame = users_frame(shipped, Month(2024, 9))
    assert frame["platform"].to_list() == list(PLATFORMS)
    assert frame["monthly_active_users_month"].is_not_null().all()


def test_a_month_takes_its_figure_the_line_between_two_or_the_nearest_held(tmp_path):
    users = load_platform_users(series(tmp_path, "x,2024-01-31,500,q1,no\nx,2024-04-30,620,q2,yes\n"))

    def x(month: Month):
        return next(u for u in users_in_month(users, month) if u.platform == "x")

    assert x(Month(2024, 1)).monthly_active_users_millions == 500
    assert x(Month(2024, 3)).monthly_active_users_millions == pytest.approx(500 + 120 * 2 / 3)
    assert (
        x(Month(2024, 3)).users_basis == "interpolated between 500 as of 2024-01-31 and 620 as of 2024-04-30"
    )
    assert x(Month(2024, 4)).monthly_active_users_millions == 620
    assert x(Month(2023, 6)).monthly_active_users_millions == 500
    assert "held (no earlier figure)" in x(Month(2023, 6)).users_basis
    assert x(Month(2025, 6)).monthly_active_users_millions == 620
    assert "held (no later figure)" in x(Month(2025, 6)).users_basis


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("x,2024-01-31,500,,no\n", r"line 5 \(x, 2024-01-31\): every figure needs its source"),
        ("x,2024-01-31,-5,q1,no\n", "must be a positive number"),
        ("x,31/01/2024,500,q1,no\n", "as_of must be a date"),
        ("x,2024-01-31,500,q1,maybe\n", "verified must be yes or no"),
        ("tiktok,2024-01-31,500,q1,no\n", "unknown platform"),
        ("", r"no figure for \['x'\]"),
        ("x,2024-01-01,500,q1,no\nx,2024-01-31,510,q1,no\n", "x has two figures in 2024-01"),
    ],
)
def test_a_broken_series_is_refused_with_the_line(tmp_path, rows, message):
    with pytest.raises(PlatformUsersError, match=message):
        load_platform_users(series(tmp_path, rows))
