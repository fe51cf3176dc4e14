"""The Monte Carlo over the method's choices on a small hand-made month."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from cityindex_pipeline import method
from cityindex_pipeline.method.config import Aggregation, load_methodology
from cityindex_pipeline.method.uncertainty import UncertaintySpec, competition_ranks, simulate_uncertainty

M = load_methodology()


def month_of(cities: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    rows = []
    for platform in ("facebook", "x"):
        for city in range(cities):
            for dimension in M.dimensions:
                for indicator, weight in dimension.indicators.items():
                    rows.append(
                        {
                            "platform": platform,
                            "city_id": f"c{city:02d}",
                            "dimension": dimension.name,
                            "indicator": indicator,
                            "indicator_weight": weight,
                            "treated_value": float(rng.gamma(2.0, 1.0 + city / 3)),
                        }
                    )
    indicators = pl.DataFrame(rows)
    weights = pl.DataFrame({"platform": ["facebook", "x"], "weight": [0.7, 0.3]})
    panel = pl.DataFrame(
        {"city_id": [f"c{c:02d}" for c in range(cities)], "score": rng.uniform(40, 80, cities)}
    )
    return indicators, weights, panel, [f"c{c:02d}" for c in range(cities)]


def test_competition_ranks():
    assert competition_ranks(np.array([10.0, 30.0, 30.0, 5.0])).tolist() == [[3, 1, 1, 4]]


def test_intervals_are_seeded_ordered_and_centred_on_the_nominal_ranks():
    indicators, weights, panel, cities = month_of(12)
    spec = UncertaintySpec(draws=300, seed=7)
    first, sensitivity = simulate_uncertainty(indicators, weights, panel, cities, M, spec)
    again, _ = simulate_uncertainty(indicators, weights, panel, cities, M, spec)
    assert first.equals(again), "seeded: the same draws give the same intervals"
    other, _ = simulate_uncertainty(indicators, weights, panel, cities, M, UncertaintySpec(draws=300, seed=8))
    assert not other.equals(first)
    assert (first["rank_p05"] <= first["median_rank"]).all() and (
        first["median_rank"] <= first["rank_p95"]
    ).all()
    assert sorted(first["nominal_rank"]) == list(range(1, 13))
    assert set(sensitivity["choice"]) == {
        "platform_weights",
        "dimension_weights",
        "normalisation",
        "qualitative_share",
    }
    assert (sensitivity["share_of_total_variance"] >= 0).all()


def test_a_city_far_ahead_has_a_robust_first_place():
    indicators, weights, panel, cities = month_of(8)
    leader = indicators["city_id"] == "c07"
    indicators = indicators.with_columns(
        pl.when(leader)
        .then(pl.col("treated_value") * 100)
        .otherwise(pl.col("treated_value"))
        .alias("treated_value")
    )
    panel = panel.with_columns(
        pl.when(pl.col("city_id") == "c07").then(100.0).otherwise(pl.col("score")).alias("score")
    )
    intervals, _ = simulate_uncertainty(indicators, weights, panel, cities, M, UncertaintySpec(draws=200))
    top = intervals.filter(city_id="c07").row(0, named=True)
    assert (top["nominal_rank"], top["rank_p05"], top["rank_p95"], top["robust"]) == (1, 1, 1, True)


def test_with_no_perturbation_every_draw_is_the_nominal_ranking():
    indicators, weights, panel, cities = month_of(10)
    spec = UncertaintySpec(
        draws=50, weight_concentration=1e9, qualitative_share_range=(0.2, 0.2), normalisations=("min-max",)
    )
    intervals, _ = simulate_uncertainty(indicators, weights, panel, cities, M, spec)
    assert (intervals["rank_p05"] == intervals["nominal_rank"]).all()
    assert (intervals["rank_p95"] == intervals["nominal_rank"]).all()


def test_with_only_the_panel_counting_cities_rank_by_the_panel():
    indicators, weights, panel, cities = month_of(6)
    spec = UncertaintySpec(
        draws=20, weight_concentration=1e9, qualitative_share_range=(1.0, 1.0), normalisations=("min-max",)
    )
    intervals, _ = simulate_uncertainty(indicators, weights, panel, cities, M, spec)
    expected = panel.sort("score", descending=True)["city_id"].to_list()
    assert intervals.sort("median_rank")["city_id"].to_list() == expected


@pytest.mark.parametrize("how", ["arithmetic", "geometric"])
def test_the_nominal_draw_is_the_index_under_either_aggregation(how):
    methodology = dataclasses.replace(M, aggregation=Aggregation(dimensions=how, platforms=how))
    indicators, weights, panel, cities = month_of(9, seed=3)
    platform_scores = method.aggregate_platform(method.normalise(indicators, "min-max"), methodology)
    index = method.comprehensive_index(
        pl.DataFrame({"city_id": cities}),
        platform_scores,
        weights,
        panel,
        pl.DataFrame(schema={"city_id": pl.String, "score": pl.Float64, "rank": pl.Int32}),
        methodology,
    )
    intervals, _ = simulate_uncertainty(
        indicators, weights, panel, cities, methodology, UncertaintySpec(draws=20)
    )
    joined = intervals.join(index, on="city_id")
    assert (joined["nominal_rank"] == joined["rank"]).all()
