"""Outlier treatment: the statistics, the decision and its record, worked out by hand."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import polars as pl
import pytest

from cityindex_pipeline import method
from cityindex_pipeline.method.config import load_methodology
from cityindex_pipeline.method.treatment import (
    TreatmentSpec,
    kurtosis,
    plan_treatment,
    skewness,
)

M = load_methodology("0.3.0")


def test_skewness_and_kurtosis_by_hand():
    # x = 0, 0, 0, 10: mean 2.5, d = -2.5 x3, 7.5; sum d^2 = 75, sum d^3 = 375, sum d^4 = 3281.25.
    # skewness = sqrt(4*3)/2 * sqrt(4) * 375 / 75^1.5 = 2; r = 4 * 3281.25 / 75^2 = 7/3,
    # kurtosis = (5 (7/3 - 3) + 6) * 3 / (2 * 1) = 4. (Excel: SKEW = 2, KURT = 4.)
    x = np.array([0.0, 0.0, 0.0, 10.0])
    assert skewness(x) == pytest.approx(2.0, abs=1e-12)
    assert kurtosis(x) == pytest.approx(4.0, abs=1e-12)
    assert skewness(np.array([1.0, 2.0])) is None and kurtosis(np.array([1.0, 2.0, 9.0])) is None
    assert skewness(np.array([3.0, 3.0, 3.0, 3.0])) is None, "no spread, no skew"


def test_the_thresholds_are_strict_and_need_both():
    # skewness exactly 2 is not above 2: no treatment, even with kurtosis 4 > 3.5
    plan = plan_treatment(np.array([0.0, 0.0, 0.0, 10.0]), TreatmentSpec())
    assert plan.treatment == "none"
    assert plan_treatment(np.array([0.0, 0.0, 0.0, 10.0]), TreatmentSpec(skewness=1.9)).treatment != "none"
    assert plan_treatment(
        np.array([0.0, 0.0, 0.0, 10.0]), TreatmentSpec(skewness=1.9, kurtosis=4.5)
    ).treatment == ("none"), "kurtosis 4 is not above 4.5"


def test_one_outlier_is_winsorised_to_the_next_value():
    # 1..9 and 100: skewness 3.12, kurtosis 9.80: flagged; 100 -> 9 and 1..9, 9 is no longer skewed.
    x = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], dtype=float)
    plan = plan_treatment(x, TreatmentSpec())
    assert (plan.treatment, plan.winsorised_points, plan.high_cap, plan.low_cap) == (
        "winsorised",
        1,
        9.0,
        None,
    )
    assert plan.skewness > 2 and plan.kurtosis > 3.5
    assert abs(plan.treated_skewness) < 2
    assert plan.apply(x).tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 9]


def test_low_side_outliers_are_raised():
    x = -np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], dtype=float)
    plan = plan_treatment(x, TreatmentSpec())
    assert (plan.treatment, plan.winsorised_points, plan.low_cap, plan.high_cap) == (
        "winsorised",
        1,
        -9.0,
        None,
    )


def test_when_winsorising_the_allowed_points_is_not_enough_the_original_values_are_logged():
    # 16 zeros and 10, 100, 1000, 10000: with one point allowed, 10000 -> 1000 leaves skewness 2.86 and
    # kurtosis 6.93, still flagged; so ln(1 + x) of the original values is used (min is 0: no shift).
    x = np.array([0.0] * 16 + [10.0, 100.0, 1000.0, 10000.0])
    plan = plan_treatment(x, TreatmentSpec(winsorise_max_points=1))
    assert plan.treatment == "log" and plan.winsorised_points == 0 and plan.log_shift == 0.0
    assert plan.apply(x)[-1] == pytest.approx(math.log(10001.0))
    # with two points allowed, 10000 and 1000 -> 100 is enough? skewness 2.11 but kurtosis 2.73: cleared
    two = plan_treatment(x, TreatmentSpec(winsorise_max_points=2))
    assert (two.treatment, two.winsorised_points, two.high_cap) == ("winsorised", 2, 100.0)


def test_log_shifts_negative_values_and_can_be_the_only_step():
    x = np.array([-5.0] * 16 + [10.0, 100.0, 1000.0, 10000.0])
    plan = plan_treatment(x, TreatmentSpec(steps=("log",)))
    assert plan.treatment == "log" and plan.log_shift == -5.0
    assert plan.apply(x)[0] == 0.0 and plan.apply(x)[-1] == pytest.approx(math.log(10006.0))


def test_winsorise_only_keeps_the_winsorised_values_even_if_still_flagged():
    x = np.array([0.0] * 16 + [10.0, 100.0, 1000.0, 10000.0])
    plan = plan_treatment(x, TreatmentSpec(winsorise_max_points=1, steps=("winsorise",)))
    assert (plan.treatment, plan.winsorised_points, plan.high_cap) == ("winsorised", 1, 1000.0)
    assert plan.treated_skewness > 2, "recorded as still skewed"


def long_of(values: dict[str, list[float | None]], platform: str = "x") -> pl.DataFrame:
    rows = []
    for indicator, column in values.items():
        for i, value in enumerate(column):
            rows.append(
                {"platform": platform, "city_id": f"c{i:02d}", "indicator": indicator, "raw_value": value}
            )
    return pl.DataFrame(
        rows,
        schema={"platform": pl.String, "city_id": pl.String, "indicator": pl.String, "raw_value": pl.Float64},
    )


def test_treat_records_the_decision_per_indicator_and_the_cities_moved():
    long = long_of(
        {
            "posts": [1, 2, 3, 4, 5, 6, 7, 8, 9, 100],
            "video_share": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, None],
        }
    )
    treated = method.treat(long, M)
    posts = treated.filter(indicator="posts").sort("city_id")
    assert set(posts["transform"]) == {"winsorised"} and set(posts["winsorised_points"]) == {1}
    assert posts["treated_value"].to_list()[-1] == 9.0
    assert posts["winsorised"].to_list() == [False] * 9 + [True]
    share = treated.filter(indicator="video_share").sort("city_id")
    assert set(share["transform"]) == {"none"}
    assert share["treated_value"][-1] is None, "a missing value stays missing"
    assert share["treated_value"].to_list()[:9] == share["raw_value"].to_list()[:9]
    summary = method.treatment_summary(treated)
    assert summary.select("platform", "indicator", "transform", "cities_winsorised").rows() == [
        ("x", "posts", "winsorised", 1)
    ]


def test_decisions_taken_on_one_month_can_be_applied_to_other_values():
    long = long_of({"posts": [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]})
    plans = method.treatment_plans(long, M.treatment)
    other = long_of({"posts": [1, 2, 3, 4, 5, 6, 7, 8, 20, 50]})
    assert method.treat(other, M, plans=plans).sort("city_id")["treated_value"].to_list()[-2:] == [9.0, 9.0]


def test_legacy_versions_log_the_listed_counts_always():
    legacy = load_methodology("0.2.0")
    assert legacy.treatment is None and "posts" in legacy.log_transform
    long = long_of({"posts": [0, 1, 3], "video_share": [0.5, 0.25, 1.0]})
    treated = method.treat(long, legacy).sort("indicator", "city_id")
    assert treated.filter(indicator="posts")["treated_value"].to_list() == pytest.approx(
        [0.0, math.log(2), math.log(4)]
    )
    assert set(treated.filter(indicator="posts")["transform"]) == {"log1p"}
    assert treated.filter(indicator="video_share")["treated_value"].to_list() == [0.5, 0.25, 1.0]


def test_three_cities_are_never_treated():
    long = long_of({"posts": [0, 0, 1000]})
    assert set(method.treat(long, M)["transform"]) == {"none"}, "kurtosis needs four values"


def test_the_methodology_rejects_unknown_steps():
    from cityindex_pipeline.method.config import MethodologyError, validate

    broken = dataclasses.replace(M, treatment=dataclasses.replace(M.treatment, steps=("trim",)))
    with pytest.raises(MethodologyError, match="treatment steps"):
        validate(broken)
