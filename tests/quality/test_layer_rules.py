"""The rules of the checks on the registry, the platform figures, the indicators, the panel and the
rank intervals: each passes on well-formed rows and names what is wrong in broken ones."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.quality import index_rules, reference_rules, settling


def _cities(*ids: str, version: str = "v1") -> pl.DataFrame:
    return pl.DataFrame(
        {"city_id": list(ids), "registry_version": [version] * len(ids)},
        schema={"city_id": pl.String, "registry_version": pl.String},
    )


def _accounts(rows: list[tuple[str, str, str, str]], version: str = "v1") -> pl.DataFrame:
    city, platform, handle, account_id = (list(column) for column in zip(*rows, strict=True))
    return pl.DataFrame(
        {
            "city_id": city,
            "platform": platform,
            "account_handle": handle,
            "platform_account_id": account_id,
            "active": [True] * len(rows),
            "registry_version": [version] * len(rows),
        }
    )


GOOD_ACCOUNTS = [
    ("nanjing", "x", "@nanjing", "1"),
    ("nanjing", "youtube", "@nanjing", "UC1"),
    ("xian", "x", "@xian", "2"),
]


def test_a_consistent_registry_passes():
    finding = reference_rules.registry_consistent(
        _cities("nanjing", "xian"), _accounts(GOOD_ACCOUNTS), PLATFORMS
    )
    assert finding.passed, finding
    assert "2 cities, 3 accounts (3 active)" in finding.detail


def test_the_registry_check_counts_every_inconsistency_and_says_what_to_do():
    broken = _accounts([*GOOD_ACCOUNTS, ("atlantis", "x", "@atlantis", "3"), ("xian", "x", "@nanjing", "5")])
    finding = reference_rules.registry_consistent(_cities("nanjing", "xian", "xian"), broken, PLATFORMS)
    # the city twice (2 rows), the account of no city (1), the handle twice (2)
    assert not finding.passed and finding.failed_rows == 5 and "accounts.csv" in finding.fix
    mixed = reference_rules.registry_consistent(
        _cities("nanjing", "xian", version="v2"), _accounts(GOOD_ACCOUNTS), PLATFORMS
    )
    assert not mixed.passed and mixed.sample[0]["problem"] == "registry versions v1, v2 in one month"
    empty = reference_rules.registry_consistent(_cities(), _accounts(GOOD_ACCOUNTS).clear(), PLATFORMS)
    assert not empty.passed and empty.sample[0]["problem"] == "no city on the roster"


def test_each_registry_problem_is_found_alone():
    cases = {
        "account of a city not on the roster": [*GOOD_ACCOUNTS, ("atlantis", "x", "@atlantis", "3")],
        "unknown platform": [*GOOD_ACCOUNTS, ("xian", "tiktok", "@xian", "4")],
        "handle registered twice on the platform": [*GOOD_ACCOUNTS, ("xian", "x", "@nanjing", "5")],
        "platform account id registered twice": [*GOOD_ACCOUNTS, ("xian", "youtube", "@xian2", "UC1")],
    }
    for problem, rows in cases.items():
        finding = reference_rules.registry_consistent(_cities("nanjing", "xian"), _accounts(rows), PLATFORMS)
        assert not finding.passed, problem
        assert {row["problem"] for row in finding.sample} == {problem}


def _reference(**changes: list[float]) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "platform": list(PLATFORMS),
            "monthly_active_users_millions": [3000.0, 600.0, 2000.0, 2500.0],
            "daily_minutes_per_user": [30.0, 10.0, 30.0, 50.0],
            "relevance": [9.0, 8.0, 7.0, 8.0],
        }
    )
    return frame.with_columns(**{name: pl.Series(values) for name, values in changes.items()})


def test_the_platform_figures_need_every_platform_with_positive_figures():
    assert reference_rules.reference_complete(_reference(), PLATFORMS).passed
    zero = reference_rules.reference_complete(_reference(relevance=[9.0, 0.0, 7.0, 8.0]), PLATFORMS)
    assert not zero.passed and zero.sample == [
        {"platform": "x", "monthly_active_users_millions": 600.0, "daily_minutes_per_user": 10.0,
         "relevance": 0.0, "problem": "figure not positive"}
    ]  # fmt: skip
    missing = reference_rules.reference_complete(
        _reference().filter(pl.col("platform") != "youtube"), PLATFORMS
    )
    assert not missing.passed
    assert (missing.sample[0]["platform"], missing.sample[0]["problem"]) == (
        "youtube",
        "no row for the platform",
    )


def _indicators(**changes: list) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "platform": ["x", "x", "x"],
            "city_id": ["nanjing", "xian", "sanya"],
            "indicator": ["posts", "posts", "posts"],
            "indicator_weight": [0.5, 0.5, 0.5],
            "treated_value": [10.0, 2.0, None],
            "platform_min": [2.0, 2.0, 2.0],
            "platform_max": [10.0, 10.0, 10.0],
            "normalised": [100.0, 0.0, None],
        }
    )
    return frame.with_columns(**{name: pl.Series(values) for name, values in changes.items()})


def test_indicators_pass_with_unknown_values_and_fail_outside_their_range():
    assert index_rules.indicators_well_formed(_indicators()).passed
    outside = index_rules.indicators_well_formed(_indicators(normalised=[100.0, -3.0, None]))
    assert not outside.passed and outside.sample[0]["problem"] == "normalised outside [0, 100]"
    beyond = index_rules.indicators_well_formed(_indicators(treated_value=[11.0, 2.0, None]))
    assert not beyond.passed and beyond.sample[0]["problem"] == "treated value outside the platform's range"
    twice = index_rules.indicators_well_formed(_indicators(city_id=["nanjing", "nanjing", "sanya"]))
    assert not twice.passed and twice.failed_rows == 2
    unweighted = index_rules.indicators_well_formed(_indicators(indicator_weight=[0.5, 0.0, 0.5]))
    assert not unweighted.passed and unweighted.sample[0]["problem"] == "weight not positive"


def _panel(**changes: list) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "city_id": ["nanjing", "nanjing", "xian"],
            "rater": ["r1", "r2", "r1"],
            "criterion": ["content_quality"] * 3,
            "score": [80.0, 70.0, 60.0],
            "source": ["simulated"] * 3,
        }
    )
    return frame.with_columns(**{name: pl.Series(values) for name, values in changes.items()})


def test_panel_scores_are_once_each_in_range_and_labelled():
    good = index_rules.panel_well_formed(_panel())
    assert good.passed and "3 scores (3 simulated)" in good.detail
    assert not index_rules.panel_well_formed(_panel(score=[80.0, 170.0, 60.0])).passed
    assert not index_rules.panel_well_formed(_panel(rater=["r1", "r1", "r1"])).passed
    unlabelled = index_rules.panel_well_formed(_panel(source=["simulated", "guess", "panel"]))
    assert not unlabelled.passed and unlabelled.sample[0]["problem"] == "source not panel or simulated"


def _intervals(**changes: list) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "city_id": ["nanjing", "xian", "sanya"],
            "nominal_rank": [1, 2, 3],
            "median_rank": [1, 2, 3],
            "rank_p05": [1, 1, 2],
            "rank_p95": [2, 3, 3],
            "draws": [1024] * 3,
        }
    )
    return frame.with_columns(**{name: pl.Series(values) for name, values in changes.items()})


def test_rank_intervals_are_ordered_within_the_roster_one_per_city():
    assert index_rules.rank_intervals_well_formed(_intervals(), cities=3).passed
    unordered = index_rules.rank_intervals_well_formed(_intervals(rank_p05=[1, 3, 2]), cities=3)
    assert not unordered.passed and unordered.sample[0]["problem"] == "interval not ordered"
    beyond = index_rules.rank_intervals_well_formed(_intervals(rank_p95=[2, 3, 4]), cities=3)
    assert not beyond.passed and beyond.sample[0]["problem"] == "rank outside [1, cities]"
    short = index_rules.rank_intervals_well_formed(_intervals(), cities=4)
    assert not short.passed and short.sample[0]["problem"] == "3 rows for 4 cities"


def test_a_month_missing_from_the_published_history_is_named_with_its_deadline():
    first, now = Month(2024, 7), datetime(2024, 11, 1, tzinfo=UTC)  # September due 2024-10-05 23:59 Beijing
    assert settling.publication_deadline(Month(2024, 9), 5) == datetime(2024, 10, 5, 15, 59, 59, tzinfo=UTC)
    on_time = settling.months_published_on_time(
        first, now, 5, {Month(2024, 7), Month(2024, 8), Month(2024, 9)}
    )
    assert on_time.passed and "3 months due" in on_time.detail and "no month missing" in on_time.detail
    gap = settling.months_published_on_time(first, now, 5, {Month(2024, 7), Month(2024, 9)})
    assert not gap.passed and gap.extra["late_months"] == ["2024-08"]
    assert (
        gap.sample == [{"month": "2024-08", "due": "2024-09-05T15:59:59+00:00"}] and "materialise" in gap.fix
    )
    # a history that stops is counted, not failed: the freshness policy flags the newest month
    stopped = settling.months_published_on_time(first, datetime(2026, 12, 1, tzinfo=UTC), 5, {Month(2024, 7)})
    assert stopped.passed and stopped.extra["due_after_latest"][:2] == ["2024-08", "2024-09"]
    assert "due after it, from 2024-08" in stopped.detail
    nothing = settling.months_published_on_time(first, now, 5, set())
    assert nothing.passed and nothing.extra["due_after_latest"] == ["2024-07", "2024-08", "2024-09"]
