"""Our treatment, normalisation and aggregation against COINr 1.1.14 itself, to 1e-9.

The inputs (`coinr/inputs/`) and COINr's outputs (`coinr/outputs/`, written by `coinr/make_reference.R`)
are committed: these tests need no R. Two runs: COINr's defaults (at most 5 points winsorised) and
at most 2 (so that the log is used and a step of tied points passes the cap). The methodology is the
current one, whose four COINr rules are `treatment.log: log_ct`, `treatment.ties_at_extreme: together`,
`normalisation_constant: drop` and `aggregation.missing_dimension: reweight`; 0.4.0's rules are
checked on the same inputs to give their old values.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cityindex_pipeline import method
from cityindex_pipeline.method.config import Dimension, Methodology, load_methodology
from cityindex_pipeline.method.treatment import apply_plans, treatment_plans, winsorise

REFERENCE = Path(__file__).with_name("coinr")
RUNS = {"winmax5": 5, "winmax2": 2}
CLOSE = {"abs": 1e-9, "rel": 1e-12}
CURRENT = load_methodology()


def read(name: str) -> pl.DataFrame:
    return pl.read_csv(REFERENCE / name, null_values="NA", infer_schema_length=None)


STRUCTURE = read("inputs/structure.csv")
INDICATORS = STRUCTURE.filter(pl.col("Level") == 1)


def methodology(base: Methodology, winmax: int) -> Methodology:
    """`base` with the reference's dimensions (generate, interactive, utilize) and cap."""
    dimension_weights = dict(STRUCTURE.filter(pl.col("Level") == 2).select("iCode", "Weight").iter_rows())
    dimensions = tuple(
        Dimension(
            name,
            dimension_weights[name],
            dict(INDICATORS.filter(Parent=name).select("iCode", "Weight").iter_rows()),
        )
        for name in ("generate", "interactive", "utilize")
    )
    treatment = dataclasses.replace(base.treatment, winsorise_max_points=winmax)
    return dataclasses.replace(base, dimensions=dimensions, treatment=treatment)


def long_inputs() -> pl.DataFrame:
    """The reference indicators as the method's long frame: one platform, one row per (unit, indicator)."""
    lookup = INDICATORS.select(
        pl.col("iCode").alias("indicator"),
        pl.col("Parent").alias("dimension"),
        pl.col("Weight").alias("indicator_weight"),
    )
    return (
        read("inputs/indicators.csv")
        .unpivot(index="uCode", variable_name="indicator", value_name="raw_value")
        .select(
            pl.lit("reference").alias("platform"),
            pl.col("uCode").alias("city_id"),
            "indicator",
            pl.col("raw_value").cast(pl.Float64),
        )
        .join(lookup, on="indicator")
    )


def coinr_long(name: str, numbers: bool = True) -> dict[tuple[str, str], float | str | None]:
    frame = read(name)
    if numbers:  # a column of NA alone (the constant indicator, normalised) is read as text
        frame = frame.with_columns(pl.exclude("uCode").cast(pl.Float64))
    frame = frame.unpivot(index="uCode", variable_name="indicator", value_name="value")
    return {(u, i): v for u, i, v in frame.iter_rows()}


def pipeline(base: Methodology, winmax: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    m = methodology(base, winmax)
    long = long_inputs()
    plans = treatment_plans(long, m.treatment)
    normalised = method.normalise(apply_plans(long, plans), m.normalisation, m.normalisation_constant)
    return plans, apply_plans(long, plans), normalised, method.aggregate_platform(normalised, m)


def test_the_current_methodology_takes_coinr_s_four_rules():
    assert (CURRENT.treatment.log, CURRENT.treatment.ties_at_extreme) == ("log_ct", "together")
    assert (CURRENT.normalisation_constant, CURRENT.aggregation.missing_dimension) == ("drop", "reweight")


@pytest.mark.parametrize("run", RUNS)
def test_flags_statistics_and_decisions_are_coinr_s(run):
    plans, *_ = pipeline(CURRENT, RUNS[run])
    ours = {row["indicator"]: row for row in plans.iter_rows(named=True)}
    decided = {}
    for row in read(f"outputs/treatment_{run}.csv").iter_rows(named=True):
        plan = ours[row["iCode"]]
        if row["check_SkewKurt0.Pass"] is None:  # COINr could not check it (constant): untreated
            assert (plan["transform"], plan["skewness"], plan["kurtosis"]) == ("none", None, None)
            decided[row["iCode"]] = "none"
            continue
        assert plan["skewness"] == pytest.approx(row["check_SkewKurt0.Skew"], **CLOSE)
        assert plan["kurtosis"] == pytest.approx(row["check_SkewKurt0.Kurt"], **CLOSE)
        stage = "1" if row["check_SkewKurt1.Pass"] else "2"
        decided[row["iCode"]] = "winsorised" if stage == "1" else "log"
        assert plan["transform"] == decided[row["iCode"]], row["iCode"]
        assert plan["treated_skewness"] == pytest.approx(row[f"check_SkewKurt{stage}.Skew"], **CLOSE)
        assert plan["treated_kurtosis"] == pytest.approx(row[f"check_SkewKurt{stage}.Kurt"], **CLOSE)
        # COINr's nwin is the winsorising's count, kept or not; ours records it only when it is kept
        values = long_inputs().filter(indicator=row["iCode"])["raw_value"].drop_nulls().to_numpy()
        assert winsorise(values, methodology(CURRENT, RUNS[run]).treatment)[1] == row["winsorise.nwin"]
        assert plan["winsorised_points"] == (row["winsorise.nwin"] if stage == "1" else 0)
    assert set(decided.values()) == (
        {"none", "winsorised", "log"} if run == "winmax2" else {"none", "winsorised"}
    )


@pytest.mark.parametrize("run", RUNS)
def test_treated_values_and_winsorised_points_are_coinr_s(run):
    _, treated, _, _ = pipeline(CURRENT, RUNS[run])
    expected = coinr_long(f"outputs/treated_{run}.csv")
    points = coinr_long(f"outputs/treated_points_{run}.csv", numbers=False)
    for row in treated.iter_rows(named=True):
        key = (row["city_id"], row["indicator"])
        if expected[key] is None:
            assert row["treated_value"] is None, key
            continue
        assert row["treated_value"] == pytest.approx(expected[key], **CLOSE), key
        assert row["winsorised"] == (points[key] in ("winhi", "winlo")), key


def test_a_step_of_tied_points_passes_the_cap_as_in_coinr():
    # ties: 90 is moved in to 40 (1 point, under the cap of 2), then all three at 40 move together to 8
    plans, *_ = pipeline(CURRENT, 2)
    row = plans.filter(indicator="ties").row(0, named=True)
    assert (row["transform"], row["winsorised_points"], row["high_cap"]) == ("winsorised", 3, 8.0)


@pytest.mark.parametrize("run", RUNS)
def test_normalised_values_are_coinr_s_a_constant_indicator_is_missing(run):
    _, _, normalised, _ = pipeline(CURRENT, RUNS[run])
    expected = coinr_long(f"outputs/normalised_{run}.csv")
    for row in normalised.iter_rows(named=True):
        key = (row["city_id"], row["indicator"])
        if expected[key] is None or math.isnan(expected[key]):
            assert row["normalised"] is None, key
        else:
            assert row["normalised"] == pytest.approx(expected[key], **CLOSE), key
    assert normalised.filter(indicator="constant")["normalised"].null_count() == normalised.height // 7


@pytest.mark.parametrize("run", RUNS)
def test_dimension_and_index_scores_are_coinr_s_a_missing_dimension_is_reweighted(run):
    *_, scores = pipeline(CURRENT, RUNS[run])
    ours = {row["city_id"]: row for row in scores.iter_rows(named=True)}
    for row in read(f"outputs/aggregated_{run}.csv").iter_rows(named=True):
        if row["index"] is None:  # no value at all: no index, so no row (as a city without an account)
            assert row["uCode"] not in ours
            continue
        for dimension in ("generate", "interactive", "utilize"):
            expected, got = row[dimension], ours[row["uCode"]][f"{dimension}_score"]
            assert got is None if expected is None else got == pytest.approx(expected, **CLOSE)
        assert ours[row["uCode"]]["score"] == pytest.approx(row["index"], **CLOSE), row["uCode"]
    assert ours["u37"]["utilize_score"] is None and "u40" not in ours


# -- 0.4.0's rules on the same inputs: each gives its old value -------------------------------------

OLD = load_methodology("0.4.0")


def test_0_4_0_logs_with_ln_1_plus_x_minus_min_0_and_min():
    _, treated, *_ = pipeline(OLD, 2)
    rows = treated.filter(indicator="negative_log").drop_nulls("raw_value")
    raw = rows["raw_value"].to_numpy()
    assert set(rows["transform"]) == {"log"}
    np.testing.assert_allclose(
        rows["treated_value"].to_numpy(), np.log1p(raw - min(0.0, raw.min())), atol=1e-12
    )
    new = pipeline(CURRENT, 2)[1].filter(indicator="negative_log").drop_nulls("raw_value")["treated_value"]
    assert not np.allclose(new.to_numpy(), rows["treated_value"].to_numpy()), "log_ct is another transform"


def test_0_4_0_refuses_a_step_that_passes_the_cap_and_falls_back_to_the_log():
    plans, *_ = pipeline(OLD, 2)
    row = plans.filter(indicator="ties").row(0, named=True)
    assert (row["transform"], row["winsorised_points"]) == ("log", 0)


def test_0_4_0_scores_a_constant_indicator_50_and_a_missing_dimension_0():
    _, _, normalised, scores = pipeline(OLD, 5)
    assert set(normalised.filter(indicator="constant").drop_nulls("raw_value")["normalised"]) == {50.0}
    ours = {row["city_id"]: row for row in scores.iter_rows(named=True)}
    assert ours["u37"]["utilize_score"] == 0.0
    assert ours["u37"]["score"] == pytest.approx(
        0.3 * ours["u37"]["generate_score"] + 0.4 * ours["u37"]["interactive_score"], **CLOSE
    )
    assert ours["u40"]["score"] == 0.0, "0.4.0: a city with no value still has an index, of 0"
