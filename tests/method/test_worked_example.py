"""Three cities, two platforms, every step of the method worked out by hand (invented figures).

Facebook: cities a, b and c; X: a and b only (c has no account there). The numbers in the comments
are what a spreadsheet gives; the tests check the code against them.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from cityindex_pipeline import method
from cityindex_pipeline.method.config import load_methodology

M = load_methodology("0.4.0")
"""The example is worked in methodology 0.4.0 (unweighted interactions, fixed platform reference,
its treatment rules); 0.5.0's new rules are worked by hand in test_monthly_weights.py and pinned
against COINr itself in test_against_coinr.py."""
EXACT = {"abs": 1e-9}


def metrics() -> pl.DataFrame:
    rows = [
        # platform, city, followers, previous, growth, posts, video posts, interactions
        ("facebook", "a", 1000, 800, 200, 4, 2, 400),
        ("facebook", "b", 500, 500, 0, 2, 0, 100),
        ("facebook", "c", 2000, 1000, 1000, 1, 1, 50),
        ("x", "a", 100, None, None, 10, 0, 1000),
        ("x", "b", 300, None, None, 5, 5, 1000),
    ]
    columns = [
        "platform",
        "city_id",
        "followers",
        "followers_previous",
        "follower_growth",
        "posts",
        "video_posts",
    ]
    return pl.DataFrame(rows, schema=[*columns, "interactions"], orient="row")


def posts() -> pl.DataFrame:
    def day(d: int) -> datetime:
        return datetime(2024, 9, d, 10)

    rows = (
        [("facebook", "a", day(d), 1250) for d in (1, 1, 2, 2)]  # 2 active days, 5,000 exposures
        + [("facebook", "b", day(d), 500) for d in (3, 4)]  # 2 days, 1,000
        + [("facebook", "c", day(5), 3000)]  # 1 day, 3,000
        + [("x", "a", day(d), 2000) for d in (1, 1, 2, 2, 3, 3, 4, 4, 5, 5)]  # 5 days, 20,000
        + [("x", "b", day(d), 2000) for d in (1, 2, 3, 4, 5)]  # 5 days, 10,000
    )
    return pl.DataFrame(
        rows, schema=["platform", "city_id", "published_at_beijing", "exposures"], orient="row"
    ).with_columns(views=pl.lit(None, pl.Int64))


@pytest.fixture(scope="module")
def indicators() -> pl.DataFrame:
    return method.platform_indicators(metrics(), posts(), M, ("facebook", "x"))


def value(frame: pl.DataFrame, platform: str, city: str, indicator: str, column: str):
    return frame.filter(platform=platform, city_id=city, indicator=indicator)[column][0]


def test_1_indicators(indicators):
    raw = {
        # facebook: a, b, c
        ("facebook", "posts"): (4, 2, 1),
        ("facebook", "active_days"): (2, 2, 1),
        ("facebook", "video_share"): (0.5, 0.0, 1.0),
        ("facebook", "interactions"): (400, 100, 50),
        ("facebook", "interactions_per_post"): (100, 50, 50),
        ("facebook", "interactions_per_thousand_followers"): (400, 200, 25),  # 400 / 1000 x 1000 ...
        ("facebook", "followers"): (1000, 500, 2000),
        ("facebook", "follower_growth_rate"): (0.25, 0.0, 1.0),  # 200 / 800, 0 / 500, 1000 / 1000
        ("facebook", "views"): (5000, 1000, 3000),
    }
    for (platform, indicator), expected in raw.items():
        got = tuple(value(indicators, platform, city, indicator, "raw_value") for city in "abc")
        assert got == pytest.approx(expected, **EXACT), indicator
    assert value(indicators, "x", "a", "interactions_per_thousand_followers", "raw_value") == pytest.approx(
        10000
    )
    assert value(indicators, "x", "a", "follower_growth_rate", "raw_value") is None, "no previous month"
    assert indicators.filter(platform="x", city_id="c").height == 0, "no account: no row, not zeros"


def test_2_treatment_three_cities_are_never_flagged(indicators):
    assert set(indicators["transform"]) == {"none"}
    same = indicators.filter(pl.col("raw_value").is_not_null())
    assert (same["treated_value"] == same["raw_value"]).all()


def test_3_normalisation_min_max(indicators):
    expected = {
        ("facebook", "posts"): (100, 100 / 3, 0),  # (x - 1) / (4 - 1)
        ("facebook", "active_days"): (100, 100, 0),
        ("facebook", "video_share"): (50, 0, 100),
        ("facebook", "interactions"): (100, 100 * 50 / 350, 0),
        ("facebook", "interactions_per_post"): (100, 0, 0),
        ("facebook", "interactions_per_thousand_followers"): (100, 100 * 175 / 375, 0),
        ("facebook", "followers"): (100 / 3, 0, 100),
        ("facebook", "follower_growth_rate"): (25, 0, 100),
        ("facebook", "views"): (100, 0, 50),
        ("x", "active_days"): (50, 50),  # constant: 50 for all
        ("x", "iptf"): (100, 0),
    }
    for (platform, indicator), values in expected.items():
        indicator = "interactions_per_thousand_followers" if indicator == "iptf" else indicator
        got = tuple(
            value(indicators, platform, city, indicator, "normalised") for city in "abc"[: len(values)]
        )
        assert got == pytest.approx(values, **EXACT), (platform, indicator)
    assert value(indicators, "x", "a", "follower_growth_rate", "normalised") is None


@pytest.fixture(scope="module")
def platform_scores(indicators) -> pl.DataFrame:
    previous = pl.DataFrame(
        schema={"platform": pl.String, "city_id": pl.String, "score": pl.Float64, "rank": pl.Int32}
    )
    return method.platform_index(indicators, M, previous)


def test_4_dimensions_and_5_platform_index(platform_scores):
    def row(platform, city):
        return platform_scores.filter(platform=platform, city_id=city).row(0, named=True)

    expected = {
        # G = .4 posts + .4 days + .2 video; I = .4 int + .3 ipp + .3 iptf; U = .4 fol + .2 growth + .4 views
        ("facebook", "a"): (90, 100, 100 / 3 * 0.4 + 5 + 40),  # 58.333
        ("facebook", "b"): (100 / 3 * 0.4 + 40, 0.4 * 100 * 50 / 350 + 0.3 * 100 * 175 / 375, 0),
        ("facebook", "c"): (20, 0, 80),
        # X: growth missing: Utilize re-weighted over followers and views (.4 / .8 each)
        ("x", "a"): (60, 50, 50),
        ("x", "b"): (40, 50, 50),
    }
    for (platform, city), (g, i, u) in expected.items():
        r = row(platform, city)
        assert (r["generate_score"], r["interactive_score"], r["utilize_score"]) == pytest.approx(
            (g, i, u), **EXACT
        )
        assert r["score"] == pytest.approx(0.3 * g + 0.4 * i + 0.3 * u, **EXACT)
    assert row("facebook", "a")["score"] == pytest.approx(84.5, **EXACT)
    assert row("facebook", "c")["score"] == pytest.approx(30.0, **EXACT)
    assert row("x", "a")["score"] == pytest.approx(53.0, **EXACT)
    assert [row("facebook", c)["rank"] for c in "acb"] == [1, 2, 3]


REFERENCE = pl.DataFrame(
    {
        "platform": ["facebook", "x"],
        "monthly_active_users_millions": [300.0, 100.0],
        "daily_minutes_per_user": [30.0, 10.0],
        "relevance": [6.0, 4.0],
    }
)


def test_6_platform_weights():
    weights = method.platform_weights(REFERENCE, M)
    # facebook: .4 x 300/400 + .3 x 30/40 + .3 x 6/10 = .3 + .225 + .18 = .705; x: .1 + .075 + .12 = .295
    assert dict(weights.select("platform", "weight").iter_rows()) == pytest.approx(
        {"facebook": 0.705, "x": 0.295}, **EXACT
    )


PANEL = pl.DataFrame(
    {
        "city_id": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
        "rater": ["r1", "r1", "r2", "r2"] * 3,
        "criterion": ["content_quality", "communication_strategy"] * 6,
        "score": [70.0, 80.0, 60.0, 90.0, 50.0, 50.0, 50.0, 50.0, 100.0, 90.0, 80.0, 90.0],
    }
)


@pytest.fixture(scope="module")
def comprehensive(platform_scores) -> pl.DataFrame:
    previous = pl.DataFrame({"city_id": ["a", "b", "c"], "score": [70.0, 40.0, 30.0], "rank": [1, 2, 3]})
    return method.comprehensive_index(
        pl.DataFrame({"city_id": ["a", "b", "c"]}),
        platform_scores,
        method.platform_weights(REFERENCE, M),
        PANEL,
        previous,
        M,
    )


def test_7_comprehensive_80_20_and_8_ranks(comprehensive, platform_scores):
    out = {r["city_id"]: r for r in comprehensive.to_dicts()}
    fb_b = platform_scores.filter(platform="facebook", city_id="b")["score"][0]
    quantitative = {"a": 0.705 * 84.5 + 0.295 * 53, "b": 0.705 * fb_b + 0.295 * 47, "c": 0.705 * 30}
    assert quantitative["a"] == pytest.approx(75.2075, **EXACT) and quantitative["c"] == pytest.approx(
        21.15, **EXACT
    )
    qualitative = {"a": 75.0, "b": 50.0, "c": 90.0}  # mean over raters and criteria
    for city in "abc":
        assert out[city]["quantitative_score"] == pytest.approx(quantitative[city], **EXACT)
        assert out[city]["qualitative_score"] == pytest.approx(qualitative[city], **EXACT)
        assert out[city]["score"] == pytest.approx(
            0.8 * quantitative[city] + 0.2 * qualitative[city], **EXACT
        )
    assert out["a"]["score"] == pytest.approx(75.166, **EXACT)
    assert out["c"]["score"] == pytest.approx(34.92, **EXACT)
    assert out["b"]["score"] == pytest.approx(34.5635428571, abs=1e-9)
    assert [out[c]["rank"] for c in "acb"] == [1, 2, 3], "c's panel lifts it above b"
    assert (out["c"]["rank_change"], out["b"]["rank_change"]) == (1, -1)
    assert out["a"]["score_change"] == pytest.approx(75.166 - 70.0, **EXACT)
    assert out["c"]["platforms_present"] == 1


def test_9_the_parts_of_a_score_add_up_to_it(indicators, comprehensive):
    weights = method.platform_weights(REFERENCE, M)
    for city in "abc":
        parts = method.decompose(city, indicators, weights, comprehensive, M)
        score = comprehensive.filter(city_id=city)["score"][0]
        assert parts["contribution"].sum() == pytest.approx(score, abs=1e-9)
    # a's panel part: .2 x 75 = 15; a's facebook posts part: .8 x .705 x .3 x .4 x 100 = 6.768
    parts = method.decompose("a", indicators, weights, comprehensive, M)
    assert parts.filter(part="qualitative")["contribution"][0] == pytest.approx(15.0, **EXACT)
    posts_part = parts.filter(platform="facebook", indicator="posts")["contribution"][0]
    assert posts_part == pytest.approx(0.8 * 0.705 * 0.3 * 0.4 * 100, **EXACT)
