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
            "interactions": 86.2009,
            "interactions_per_post": 82.6618,
            "interactions_per_thousand_followers": 12.7276,
            "followers": 99.9050,
            "follower_growth_rate": 2.6363,
            "views": 91.6047,
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
    platforms = wh.read_month("idx.platform_index", SEPTEMBER).filter(city_id="nanjing")
    scores = dict(platforms.select("platform", "score").iter_rows())
    assert scores == pytest.approx(
        {"facebook": 73.7108, "x": 61.4936, "instagram": 24.8405, "youtube": 13.2807}, **ROUNDED
    )
    weights = dict(wh.read_month("idx.platform_weights", SEPTEMBER).select("platform", "weight").iter_rows())
    assert weights == pytest.approx(
        {"facebook": 0.321842, "x": 0.123713, "instagram": 0.233373, "youtube": 0.321072}, abs=5e-7
    )
    comprehensive = wh.read_month("idx.comprehensive_index", SEPTEMBER)
    nanjing = comprehensive.filter(city_id="nanjing").row(0, named=True)
    assert (nanjing["quantitative_score"], nanjing["qualitative_score"], nanjing["score"]) == pytest.approx(
        (41.3919, 75.2067, 48.1549), **ROUNDED
    )
    assert nanjing["rank"] == 9 and nanjing["methodology_version"] == "0.4.0"
    treated = (
        wh.read_month("idx.platform_indicators", SEPTEMBER)
        .group_by("platform", "indicator")
        .agg(pl.col("transform").first())
    )
    assert treated.group_by("transform").len().sort("transform").rows() == [
        ("log", 6),
        ("none", 10),
        ("winsorised", 20),
    ]
    parts = method.decompose(
        "nanjing",
        wh.read_month("idx.platform_indicators", SEPTEMBER),
        wh.read_month("idx.platform_weights", SEPTEMBER),
        comprehensive,
        load_methodology("0.4.0"),
    )
    assert parts["contribution"].sum() == pytest.approx(nanjing["score"], abs=1e-9)
