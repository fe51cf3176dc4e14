"""The uncertainty and sensitivity analysis on a small hand-made month: the Sobol indices of 0.5.0 on,
and the legacy Monte Carlo with one-at-a-time shares (an `UncertaintySpec` without `sensitivity`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from cityindex_pipeline import method
from cityindex_pipeline.method.config import Aggregation, MethodologyError, load_methodology, validate
from cityindex_pipeline.method.sobol import SensitivitySpec
from cityindex_pipeline.method.uncertainty import (
    UncertaintySpec,
    competition_ranks,
    simulate_uncertainty,
    spec_from,
)

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


def test_competition_ranks_are_one_plus_the_cities_strictly_ahead_with_ties():
    scores = np.random.default_rng(2).integers(0, 6, size=(50, 12)).astype(float)
    ahead = (scores[:, None, :] > scores[:, :, None]).sum(axis=2)
    np.testing.assert_array_equal(competition_ranks(scores), 1 + ahead)


SOBOL = UncertaintySpec(sensitivity=SensitivitySpec(base_samples=64, bootstrap=50, confidence=0.9))


def test_the_sobol_analysis_states_its_indices_intervals_and_runs():
    indicators, weights, panel, cities = month_of(12)
    intervals, sensitivity = simulate_uncertainty(indicators, weights, panel, cities, M, SOBOL)
    again, same = simulate_uncertainty(indicators, weights, panel, cities, M, SOBOL)
    assert intervals.equals(again) and sensitivity.equals(same), "seeded"
    assert set(sensitivity["choice"]) == {
        "platform_weights",
        "dimension_weights",
        "normalisation",
        "qualitative_share",
    }
    row = sensitivity.row(0, named=True)
    stated = (row["model_runs"], row["base_samples"], row["bootstrap"], row["confidence"])
    assert stated == (64 * 6, 64, 50, 0.9)
    assert intervals["draws"].to_list() == [128] * 12, "the rank intervals come from the A and B runs"
    assert (sensitivity["first_order_low"] <= sensitivity["first_order"]).all()
    assert (sensitivity["first_order"] <= sensitivity["first_order_high"]).all()
    assert (sensitivity["total_order"] >= sensitivity["first_order"] - 0.05).all()
    assert sensitivity["first_order"].sum() <= 1.05
    assert row["interaction_share"] == pytest.approx(1 - sensitivity["first_order"].sum())
    assert sensitivity["share_of_total_variance"].is_null().all(), "the legacy figures are not filled"
    assert sensitivity["total_order"].is_sorted(descending=True)


def test_a_choice_that_cannot_move_the_ranks_has_indices_of_zero():
    indicators, weights, panel, cities = month_of(10)
    spec = dataclasses.replace(SOBOL, qualitative_share_range=(0.2, 0.2))
    _, sensitivity = simulate_uncertainty(indicators, weights, panel, cities, M, spec)
    share = sensitivity.filter(choice="qualitative_share").row(0, named=True)
    assert share["first_order"] == pytest.approx(0.0, abs=1e-12)
    assert share["total_order"] == pytest.approx(0.0, abs=1e-12)


def test_with_the_criterion_shares_the_criteria_weights_are_drawn():
    indicators, weights, panel, cities = month_of(10)
    shares = pl.DataFrame(
        {"user_scale_share": [0.8, 0.2], "activity_share": [0.6, 0.4], "relevance_share": [0.5, 0.5]}
    )
    with_shares = pl.concat([weights.drop("weight"), shares], how="horizontal").with_columns(
        weight=0.4 * pl.col("user_scale_share")
        + 0.3 * pl.col("activity_share")
        + 0.3 * pl.col("relevance_share")
    )
    intervals, sensitivity = simulate_uncertainty(indicators, with_shares, panel, cities, M, SOBOL)
    assert "platform_weight_criteria" in sensitivity["choice"].to_list()
    assert "platform_weights" not in sensitivity["choice"].to_list()
    direct, _ = simulate_uncertainty(indicators, with_shares.drop(shares.columns), panel, cities, M, SOBOL)
    assert intervals["nominal_rank"].equals(direct["nominal_rank"])


def test_indicator_variants_are_a_factor_that_matters_only_when_they_differ():
    indicators, weights, panel, cities = month_of(10)
    _, same = simulate_uncertainty(
        indicators, weights, panel, cities, M, SOBOL, indicator_variants={"copy": indicators}
    )
    copy = same.filter(choice="interaction_weights").row(0, named=True)
    assert (copy["first_order"], copy["total_order"]) == pytest.approx((0.0, 0.0), abs=1e-12)
    other, *_ = month_of(10, seed=9)
    _, varied = simulate_uncertainty(
        indicators, weights, panel, cities, M, SOBOL, indicator_variants={"other": other}
    )
    assert varied.filter(choice="interaction_weights")["total_order"].item() > 0.1
    with pytest.raises(ValueError, match="variant 'short'"):
        simulate_uncertainty(
            indicators,
            weights,
            panel,
            cities,
            M,
            SOBOL,
            indicator_variants={"short": other.filter(city_id="c01")},
        )


def test_the_methodology_gates_the_sobol_analysis():
    assert spec_from(M).sensitivity == SensitivitySpec(
        method="sobol", base_samples=512, bootstrap=200, confidence=0.95
    )
    assert spec_from(load_methodology("0.4.0")).sensitivity is None, "0.4.0: the one-at-a-time shares"
    for bad, message in (
        (SensitivitySpec(base_samples=500), "power of 2"),
        (SensitivitySpec(method="morris"), "method"),
        (SensitivitySpec(confidence=1.5), "confidence"),
        (SensitivitySpec(bootstrap=0), "bootstrap"),
    ):
        with pytest.raises(MethodologyError, match=message):
            validate(dataclasses.replace(M, sensitivity=bad))


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
