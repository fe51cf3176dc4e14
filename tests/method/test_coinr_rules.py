"""The four COINr rules as methodology entries: read and checked, absent meaning 0.4.0's rule, and
every consumer of a re-weighted missing dimension still adding up (decompose, trace, uncertainty)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import polars as pl
import pytest

from cityindex_pipeline import method
from cityindex_pipeline.audit.trace import _platform_reconciliations
from cityindex_pipeline.audit.trace_records import (
    DimensionScore,
    TracedIndicator,
    TracedPlatform,
    WeightShares,
)
from cityindex_pipeline.method.aggregation import combine
from cityindex_pipeline.method.config import MethodologyError, load_methodology, validate
from cityindex_pipeline.method.treatment import TreatmentSpec, plan_treatment
from cityindex_pipeline.method.uncertainty import UncertaintySpec, simulate_uncertainty

M = load_methodology()
OLD = load_methodology("0.4.0")


def test_an_absent_entry_is_the_rule_of_0_4_0():
    assert (OLD.treatment.log, OLD.treatment.ties_at_extreme) == ("shifted_log1p", "refuse")
    assert (OLD.normalisation_constant, OLD.aggregation.missing_dimension) == ("fifty", "zero")


@pytest.mark.parametrize(
    "change, entry",
    [
        (
            lambda m: dataclasses.replace(m, treatment=dataclasses.replace(m.treatment, log="log10")),
            "treatment.log",
        ),
        (
            lambda m: dataclasses.replace(
                m, treatment=dataclasses.replace(m.treatment, ties_at_extreme="first")
            ),
            "ties_at_extreme",
        ),
        (lambda m: dataclasses.replace(m, normalisation_constant="zero"), "normalisation_constant"),
        (
            lambda m: dataclasses.replace(
                m, aggregation=dataclasses.replace(m.aggregation, missing_dimension="drop")
            ),
            "missing_dimension",
        ),
    ],
)
def test_a_bad_value_is_a_methodology_error_naming_the_entry(change, entry):
    with pytest.raises(MethodologyError, match=entry):
        validate(change(M))


def test_log_ct_does_not_depend_on_the_unit_where_the_shifted_log1p_does():
    # the same flagged indicator as a rate and as a count: log_ct decides and scales alike
    rate = np.array([0.001, 0.002, 0.0015, 0.0012, 0.0018, 0.0011, 0.0016, 0.0013, 0.0014, 0.05] * 2)
    ct = TreatmentSpec(steps=("log",), log="log_ct")
    as_rate, as_count = plan_treatment(rate, ct), plan_treatment(rate * 1e6, ct)
    assert as_rate.treated_skewness == pytest.approx(as_count.treated_skewness, abs=1e-9)
    shifted = TreatmentSpec(steps=("log",))
    assert plan_treatment(rate, shifted).treated_skewness != pytest.approx(
        plan_treatment(rate * 1e6, shifted).treated_skewness, abs=0.1
    )


def test_tied_extremes_move_together_past_the_cap_or_the_step_is_refused():
    x = np.array(
        [1.0, 2.0, 3.0, 2.0, 1.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 50.0, 50.0]
    )
    together = plan_treatment(x, TreatmentSpec(winsorise_max_points=1, ties_at_extreme="together"))
    assert (together.treatment, together.winsorised_points, together.high_cap) == ("winsorised", 2, 3.0)
    refused = plan_treatment(x, TreatmentSpec(winsorise_max_points=1))
    assert (refused.treatment, refused.winsorised_points) == ("log", 0)


def test_a_constant_indicator_is_dropped_or_fifty_under_every_normalisation():
    long = pl.DataFrame(
        {
            "platform": ["x"] * 3,
            "indicator": ["posts"] * 3,
            "city_id": list("abc"),
            "treated_value": [4.0, 4.0, None],
        }
    )
    for how in ("min-max", "z-score", "rank", "distance-to-best"):
        assert method.normalise(long, how, "drop")["normalised"].to_list() == [None, None, None]
        assert method.normalise(long, how)["normalised"].to_list() == [50.0, 50.0, None]


def missing_utilize() -> pl.DataFrame:
    """City a on x: Generate and Interactive, no Utilize value; city b: every indicator."""
    rows = []
    for city, utilize in (("a", None), ("b", 40.0)):
        for dimension in M.dimensions:
            for indicator, weight in dimension.indicators.items():
                value = utilize if dimension.name == "utilize" else (80.0 if city == "a" else 20.0)
                if indicator == "video_share":
                    value = None  # the indicator weights are re-scaled within Generate, as before
                rows.append(("x", city, dimension.name, indicator, weight, value))
    return pl.DataFrame(
        rows,
        schema=["platform", "city_id", "dimension", "indicator", "indicator_weight", "normalised"],
        orient="row",
    )


def test_the_platform_index_is_the_mean_over_the_dimensions_present():
    scores = {r["city_id"]: r for r in method.aggregate_platform(missing_utilize(), M).iter_rows(named=True)}
    assert scores["a"]["utilize_score"] is None
    assert scores["a"]["score"] == pytest.approx((0.3 * 80 + 0.4 * 80) / 0.7, abs=1e-9)
    geometric = dataclasses.replace(M, aggregation=dataclasses.replace(M.aggregation, dimensions="geometric"))
    (row,) = method.aggregate_platform(missing_utilize(), geometric).filter(city_id="a").iter_rows(named=True)
    assert row["score"] == pytest.approx(81 ** ((0.3 + 0.4) / 0.7) - 1, abs=1e-9)
    assert combine([80.0, 80.0, None], [0.3, 0.4, 0.3], "arithmetic") == pytest.approx(80.0, abs=1e-12)


def test_the_parts_of_a_score_with_a_missing_dimension_add_up_to_it():
    platform_scores = method.aggregate_platform(missing_utilize(), M)
    weights = pl.DataFrame({"platform": ["x"], "weight": [1.0]})
    panel = pl.DataFrame({"city_id": ["a", "b"], "score": [60.0, 30.0]})
    previous = pl.DataFrame(schema={"city_id": pl.String, "score": pl.Float64, "rank": pl.Int32})
    comprehensive = method.comprehensive_index(
        pl.DataFrame({"city_id": ["a", "b"]}), platform_scores, weights, panel, previous, M
    )
    for city in ("a", "b"):
        parts = method.decompose(city, missing_utilize(), weights, comprehensive, M)
        assert parts["contribution"].sum() == pytest.approx(
            comprehensive.filter(city_id=city)["score"][0], abs=1e-9
        )


def test_the_trace_reconciles_a_platform_with_a_missing_dimension():
    (row,) = method.aggregate_platform(missing_utilize(), M).filter(city_id="a").iter_rows(named=True)
    indicators = tuple(
        TracedIndicator(**{**{f: None for f in TracedIndicator.__dataclass_fields__}, **values})
        for values in missing_utilize()
        .filter(city_id="a")
        .select("indicator", "dimension", "indicator_weight", "normalised")
        .iter_rows(named=True)
    )
    traced = TracedPlatform(
        platform="x",
        weight=1.0,
        weight_from=WeightShares(1.0, 1.0, 1.0),
        score=row["score"],
        contribution=row["score"],
        dimensions={d.name: DimensionScore(row[f"{d.name}_score"], d.weight) for d in M.dimensions},
        indicators=indicators,
    )
    checks = _platform_reconciliations(traced, M)
    assert len(checks) == 3 and all(check.ok for check in checks), checks
    broken = dataclasses.replace(
        traced, dimensions={**traced.dimensions, "utilize": DimensionScore(10.0, 0.3)}
    )
    assert not all(check.ok for check in _platform_reconciliations(broken, M))


def test_the_nominal_uncertainty_draw_is_the_index_with_a_missing_dimension():
    rng = np.random.default_rng(5)
    frames = []
    for platform in ("facebook", "x"):
        for city in range(8):
            for dimension in M.dimensions:
                for indicator, weight in dimension.indicators.items():
                    value = float(rng.gamma(2.0, 1.0 + city / 3))
                    if dimension.name == "utilize" and platform == "x" and city < 3:
                        value = None
                    frames.append((platform, f"c{city}", dimension.name, indicator, weight, value))
    indicators = pl.DataFrame(
        frames,
        schema=["platform", "city_id", "dimension", "indicator", "indicator_weight", "treated_value"],
        orient="row",
    )
    cities = [f"c{city}" for city in range(8)]
    weights = pl.DataFrame({"platform": ["facebook", "x"], "weight": [0.6, 0.4]})
    panel = pl.DataFrame({"city_id": cities, "score": rng.uniform(40, 80, 8)})
    previous = pl.DataFrame(schema={"city_id": pl.String, "score": pl.Float64, "rank": pl.Int32})
    platform_scores = method.aggregate_platform(method.normalise(indicators, "min-max", "drop"), M)
    assert platform_scores.filter(platform="x", city_id="c0")["utilize_score"][0] is None
    index = method.comprehensive_index(
        pl.DataFrame({"city_id": cities}), platform_scores, weights, panel, previous, M
    )
    intervals, _ = simulate_uncertainty(indicators, weights, panel, cities, M, UncertaintySpec(draws=10))
    joined = intervals.join(index, on="city_id")
    assert (joined["nominal_rank"] == joined["rank"]).all()
    assert not math.isnan(float(joined["median_rank"].sum()))
