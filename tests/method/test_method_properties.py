"""Properties of the method over generated months (hypothesis); every figure here is invented."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import polars as pl
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cityindex_pipeline import method
from cityindex_pipeline.method.config import (
    NORMALISATIONS,
    Aggregation,
    available_versions,
    load_methodology,
)

M = dataclasses.replace(load_methodology(), interaction_weights=None, platform_weight_inputs="reference")
"""The current method over frames that carry interaction counts (not their parts) and no month's
activity: interactions unweighted, platform weights from the reference figures."""
PLATFORMS = ("facebook", "x")
AGGREGATIONS = ("arithmetic", "geometric")


@st.composite
def accounts(draw, platform: str, city: str) -> tuple[dict, list[dict]]:
    followers = draw(st.one_of(st.none(), st.integers(1, 10_000_000)))
    previous = draw(st.one_of(st.none(), st.integers(1, 10_000_000)))
    posts = draw(st.integers(0, 40))
    metric = {
        "platform": platform,
        "city_id": city,
        "followers": followers,
        "followers_previous": previous,
        "follower_growth": None if followers is None or previous is None else followers - previous,
        "posts": posts,
        "video_posts": draw(st.integers(0, posts)),
        "interactions": draw(st.integers(0, 1_000_000)),
    }
    days = draw(st.lists(st.integers(1, 30), min_size=min(posts, 1), max_size=min(posts, 6)))
    exposures = draw(st.one_of(st.none(), st.integers(0, 2_000_000)))
    rows = [
        {
            "platform": platform,
            "city_id": city,
            "published_at_beijing": datetime(2024, 9, day, 12),
            "exposures": exposures,
            "views": None,
        }
        for day in days
    ]
    return metric, rows


@st.composite
def months(
    draw, platforms: tuple[str, ...] = PLATFORMS, min_cities: int = 3
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Account metrics and posts of 3-9 cities, each with one account on some of the platforms."""
    cities = [f"c{i}" for i in range(draw(st.integers(min_cities, 9)))]
    metrics, posts = [], []
    for platform in platforms:
        present = draw(st.lists(st.sampled_from(cities), min_size=2, unique=True))
        for city in sorted(present):
            metric, rows = draw(accounts(platform, city))
            metrics.append(metric)
            posts.extend(rows)
    metric_schema = {
        "platform": pl.String,
        "city_id": pl.String,
        "followers": pl.Int64,
        "followers_previous": pl.Int64,
        "follower_growth": pl.Int64,
        "posts": pl.Int64,
        "video_posts": pl.Int64,
        "interactions": pl.Int64,
    }
    post_schema = {
        "platform": pl.String,
        "city_id": pl.String,
        "published_at_beijing": pl.Datetime("us"),
        "exposures": pl.Int64,
        "views": pl.Int64,
    }
    return pl.DataFrame(metrics, schema=metric_schema), pl.DataFrame(posts, schema=post_schema)


def platform_scores(metrics, posts, methodology, plans=None) -> pl.DataFrame:
    long = method.to_long(method.city_indicators(metrics, posts, "facebook", methodology), methodology)
    treated = method.treat(long, methodology, plans)
    return method.aggregate_platform(method.normalise(treated, methodology.normalisation), methodology)


@given(
    month=months(platforms=("facebook",)),
    pick=st.integers(0, 100),
    more=st.integers(1, 5_000_000),
    normalisation=st.sampled_from(NORMALISATIONS),
    aggregation=st.sampled_from(AGGREGATIONS),
)
def test_more_interactions_never_lower_a_citys_platform_score(month, pick, more, normalisation, aggregation):
    """All else fixed, the month's treatment decisions included (see METHODOLOGY.md §4)."""
    metrics, posts = month
    methodology = dataclasses.replace(
        M, normalisation=normalisation, aggregation=Aggregation(dimensions=aggregation)
    )
    city = metrics["city_id"][pick % metrics.height]
    plans = method.treatment_plans(
        method.to_long(method.city_indicators(metrics, posts, "facebook", methodology), methodology),
        methodology.treatment,
    )
    before = platform_scores(metrics, posts, methodology, plans).filter(city_id=city)["score"][0]
    boosted = metrics.with_columns(
        pl.when(pl.col("city_id") == city)
        .then(pl.col("interactions") + more)
        .otherwise(pl.col("interactions"))
    )
    after = platform_scores(boosted, posts, methodology, plans).filter(city_id=city)["score"][0]
    assert after >= before - 1e-9


@given(month=months(platforms=("facebook",)), pick=st.integers(0, 100), more=st.integers(1, 5_000_000))
def test_more_interactions_never_lower_a_score_under_the_unconditional_log_of_0_2_0(month, pick, more):
    metrics, posts = month
    legacy = load_methodology("0.2.0")
    city = metrics["city_id"][pick % metrics.height]
    before = platform_scores(metrics, posts, legacy).filter(city_id=city)["score"][0]
    boosted = metrics.with_columns(
        pl.when(pl.col("city_id") == city)
        .then(pl.col("interactions") + more)
        .otherwise(pl.col("interactions"))
    )
    after = platform_scores(boosted, posts, legacy).filter(city_id=city)["score"][0]
    assert after >= before - 1e-9


def test_re_deciding_the_treatment_can_lower_a_score_as_documented():
    """Why the monotonicity above holds the treatment decisions fixed. Six cities (invented): 1, 168,
    2052, 2, 16, 4 is flagged (skewness 2.42, kurtosis 5.87), so 2052 is winsorised to 168 and the city
    at 168 scores 100. When that city grows to 1680 the indicator is no longer flagged (two large
    values are not an outlier), nothing is winsorised, and the city scores (1680 - 1) / (2052 - 1) x 100
    = 81.86: more, yet lower."""
    long = pl.DataFrame(
        {
            "platform": ["x"] * 6,
            "city_id": ["c0", "c1", "c2", "c3", "c4", "c5"],
            "indicator": ["interactions"] * 6,
            "raw_value": [1.0, 168.0, 2052.0, 2.0, 16.0, 4.0],
        }
    )
    grown = long.with_columns(
        pl.when(pl.col("city_id") == "c1").then(1680.0).otherwise(pl.col("raw_value")).alias("raw_value")
    )

    def score_of(frame: pl.DataFrame, plans=None) -> float:
        return method.normalise(method.treat(frame, M, plans)).filter(city_id="c1")["normalised"][0]

    assert set(method.treat(long, M)["transform"]) == {"winsorised"}
    assert set(method.treat(grown, M)["transform"]) == {"none"}
    assert score_of(long) == pytest.approx(100.0)
    assert score_of(grown) == pytest.approx(1679 / 2051 * 100, abs=1e-9)
    plans = method.treatment_plans(long, M.treatment)
    assert score_of(grown, plans) >= score_of(long, plans), "with the decisions fixed it does not fall"


@given(
    month=months(),
    panel=st.lists(st.floats(0, 100), min_size=9, max_size=9),
    normalisation=st.sampled_from(NORMALISATIONS),
    dimensions=st.sampled_from(AGGREGATIONS),
    platforms=st.sampled_from(AGGREGATIONS),
    share=st.floats(0, 1),
)
def test_scores_stay_between_0_and_100(month, panel, normalisation, dimensions, platforms, share):
    metrics, posts = month
    methodology = dataclasses.replace(
        M,
        normalisation=normalisation,
        aggregation=Aggregation(dimensions=dimensions, platforms=platforms),
        quantitative_share=1 - share,
        qualitative_share=share,
    )
    long = method.platform_indicators(metrics, posts, methodology, PLATFORMS)
    assert long["normalised"].drop_nulls().is_between(0.0, 100.0).all()
    empty = pl.DataFrame(
        schema={"platform": pl.String, "city_id": pl.String, "score": pl.Float64, "rank": pl.Int32}
    )
    scores = pl.concat(
        [method.platform_index(long.filter(platform=p), methodology, empty) for p in PLATFORMS]
    )
    for column in ("generate_score", "interactive_score", "utilize_score", "score"):
        assert scores[column].is_between(-1e-9, 100.0 + 1e-9).all(), column
    cities = sorted(set(metrics["city_id"]))
    comprehensive = method.comprehensive_index(
        pl.DataFrame({"city_id": cities}),
        scores,
        pl.DataFrame({"platform": list(PLATFORMS), "weight": [0.6, 0.4]}),
        pl.DataFrame({"city_id": cities, "score": panel[: len(cities)]}),
        empty.drop("platform"),
        methodology,
    )
    for column in ("quantitative_score", "qualitative_score", "score"):
        assert comprehensive[column].is_between(-1e-9, 100.0 + 1e-9).all(), column


positive = st.floats(0.01, 1e5, allow_nan=False, allow_infinity=False)


@given(
    figures=st.lists(st.tuples(positive, positive, positive), min_size=4, max_size=4),
    criteria=st.tuples(positive, positive, positive),
    subset=st.sets(st.sampled_from(("facebook", "x", "instagram", "youtube")), min_size=1),
)
def test_platform_weights_sum_to_one(figures, criteria, subset):
    reference = pl.DataFrame(
        {
            "platform": ["facebook", "x", "instagram", "youtube"],
            "monthly_active_users_millions": [f[0] for f in figures],
            "daily_minutes_per_user": [f[1] for f in figures],
            "relevance": [f[2] for f in figures],
        }
    )
    total = sum(criteria)
    methodology = dataclasses.replace(
        M,
        platform_weight_criteria={
            "user_scale": criteria[0] / total,
            "activity": criteria[1] / total,
            "relevance": criteria[2] / total,
        },
    )
    chosen = tuple(p for p in ("facebook", "x", "instagram", "youtube") if p in subset)
    weights = method.platform_weights(reference, methodology, chosen)
    assert weights["platform"].to_list() == list(chosen)
    assert weights["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (weights["weight"] > 0).all()


@given(month=months(), panel=st.lists(st.floats(0, 100), min_size=9, max_size=9), fb=st.floats(0.01, 0.99))
def test_the_parts_of_a_final_score_add_up_to_it(month, panel, fb):
    metrics, posts = month
    long = method.platform_indicators(metrics, posts, M, PLATFORMS)
    empty = pl.DataFrame(
        schema={"platform": pl.String, "city_id": pl.String, "score": pl.Float64, "rank": pl.Int32}
    )
    scores = pl.concat([method.platform_index(long.filter(platform=p), M, empty) for p in PLATFORMS])
    weights = pl.DataFrame({"platform": list(PLATFORMS), "weight": [fb, 1 - fb]})
    cities = sorted(set(metrics["city_id"]))
    comprehensive = method.comprehensive_index(
        pl.DataFrame({"city_id": cities}),
        scores,
        weights,
        pl.DataFrame({"city_id": cities, "score": panel[: len(cities)]}),
        empty.drop("platform"),
        M,
    )
    for city in cities:
        parts = method.decompose(city, long, weights, comprehensive, M)
        assert abs(parts["contribution"].sum() - comprehensive.filter(city_id=city)["score"][0]) <= 1e-9


@given(month=months(), version=st.sampled_from(available_versions()))
def test_the_methodology_version_is_recorded_on_every_row(month, version):
    metrics, posts = month
    # the frames carry interaction counts, not their parts: 0.5.0's weights are left out
    methodology = dataclasses.replace(load_methodology(version), interaction_weights=None)
    long = method.platform_indicators(metrics, posts, methodology, PLATFORMS)
    empty = pl.DataFrame(
        schema={"platform": pl.String, "city_id": pl.String, "score": pl.Float64, "rank": pl.Int32}
    )
    scores = pl.concat(
        [method.platform_index(long.filter(platform=p), methodology, empty) for p in PLATFORMS]
    )
    cities = sorted(set(metrics["city_id"]))
    comprehensive = method.comprehensive_index(
        pl.DataFrame({"city_id": cities}),
        scores,
        pl.DataFrame({"platform": list(PLATFORMS), "weight": [0.5, 0.5]}),
        pl.DataFrame({"city_id": cities, "score": [50.0] * len(cities)}),
        empty.drop("platform"),
        methodology,
    )
    for frame in (long, scores, comprehensive):
        assert frame["methodology_version"].unique().to_list() == [version]
    assume(version != M.version)
    assert load_methodology().version != version
