"""METHODOLOGY.md §11 recomputes Nanjing's September 2024 demo score; the graph must give those numbers."""

from __future__ import annotations

import polars as pl
import pytest

from cityindex_pipeline import method
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.method.config import load_methodology

SEPTEMBER = Month(2024, 9)
ROUNDED = {"abs": 5e-5}  # the document shows four decimals


def test_the_worked_example_of_the_methodology_is_what_the_graph_computes(september_warehouse):
    wh = september_warehouse
    indicators = wh.read_month("idx.platform_indicators", SEPTEMBER).filter(platform="x", city_id="nanjing")
    normalised = dict(indicators.select("indicator", "normalised").iter_rows())
    transform = dict(indicators.select("indicator", "transform").iter_rows())
    assert normalised == pytest.approx(
        {
            "posts": 25.3731,
            "active_days": 63.3333,
            "video_share": 41.1765,
            "interactions": 69.8034,
            "interactions_per_post": 77.8573,
            "interactions_per_thousand_followers": 12.5405,
            "followers": 99.8736,
            "follower_growth_rate": 2.6363,
            "views": 82.8790,
        },
        **ROUNDED,
    )
    assert transform == {
        "posts": "winsorised",
        "active_days": "none",
        "video_share": "none",
        "interactions": "log",
        "interactions_per_post": "log",
        "interactions_per_thousand_followers": "winsorised",
        "followers": "log",
        "follower_growth_rate": "none",
        "views": "log",
    }
    raw = dict(indicators.select("indicator", "raw_value").iter_rows())
    assert raw["interactions"] == 10338, (
        "1 x 4,726 likes + 2 x 745 replies + 3 x 1,120 reposts + 3 x 254 quotes"
    )
    treated = dict(indicators.select("indicator", "treated_value").iter_rows())
    assert (treated["interactions"], treated["views"]) == pytest.approx((9.284294, 13.596215), abs=5e-7)
    platforms = wh.read_month("idx.platform_index", SEPTEMBER).filter(city_id="nanjing")
    scores = dict(platforms.select("platform", "score").iter_rows())
    assert scores == pytest.approx(
        {"facebook": 71.7710, "x": 57.2201, "instagram": 24.7475, "youtube": 11.3859}, **ROUNDED
    )
    weights = dict(wh.read_month("idx.platform_weights", SEPTEMBER).select("platform", "weight").iter_rows())
    assert weights == pytest.approx(
        {"facebook": 0.433319, "x": 0.157035, "instagram": 0.252683, "youtube": 0.156963}, abs=5e-7
    )
    inputs = wh.read_month("idx.platform_weights", SEPTEMBER).filter(platform="facebook").row(0, named=True)
    assert (inputs["user_scale_millions"], inputs["accounts"], inputs["interactions"], inputs["views"]) == (
        3065, 126, 1_555_726, 39_677_767,
    )  # fmt: skip
    assert inputs["mean_active_days"] == pytest.approx(17.293651, abs=5e-7)
    assert (inputs["user_scale_share"], inputs["activity_share"], inputs["relevance_share"]) == pytest.approx(
        (0.375199, 0.339894, 0.604237), abs=5e-7
    )
    comprehensive = wh.read_month("idx.comprehensive_index", SEPTEMBER)
    nanjing = comprehensive.filter(city_id="nanjing").row(0, named=True)
    assert (nanjing["quantitative_score"], nanjing["qualitative_score"], nanjing["score"]) == pytest.approx(
        (48.1257, 75.2067, 53.5419), **ROUNDED
    )
    assert nanjing["rank"] == 4 and nanjing["methodology_version"] == "0.5.0"
    # August's score and rank depend on July, which the demo computes first and this session's
    # warehouse does not (its August is its first month): the rule is checked, not the figures
    august = (
        wh.read_month("idx.comprehensive_index", SEPTEMBER.previous())
        .filter(city_id="nanjing")
        .row(0, named=True)
    )
    assert (nanjing["previous_score"], nanjing["previous_rank"]) == (august["score"], august["rank"])
    assert nanjing["score_change"] == pytest.approx(nanjing["score"] - august["score"], abs=1e-12)
    series = (
        wh.read_month("idx.platform_indicators", SEPTEMBER)
        .group_by("platform", "indicator")
        .agg(pl.col("transform").first())
    )
    assert series.group_by("transform").len().sort("transform").rows() == [
        ("log", 6),
        ("none", 10),
        ("winsorised", 20),
    ]
    parts = method.decompose(
        "nanjing",
        wh.read_month("idx.platform_indicators", SEPTEMBER),
        wh.read_month("idx.platform_weights", SEPTEMBER),
        comprehensive,
        load_methodology("0.5.0"),
    )
    assert parts["contribution"].sum() == pytest.approx(nanjing["score"], abs=1e-9)
