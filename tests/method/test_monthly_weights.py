"""Methodology 0.5.0's new rules worked by hand on invented figures: interaction parts weighted,
a silent account's views 0, platform weights measured from the month."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import polars as pl
import pytest

from cityindex_pipeline import method
from cityindex_pipeline.method.config import MethodologyError, load_methodology, validate

CURRENT = load_methodology()
LEGACY = load_methodology("0.4.0")
EXACT = {"abs": 1e-12}


def account_metrics() -> pl.DataFrame:
    # city a: two Facebook accounts, one of which published nothing; city b: one account, silent
    return pl.DataFrame(
        {
            "platform": ["facebook"] * 3,
            "city_id": ["a", "a", "b"],
            "account_handle": ["a_main", "a_silent", "b_main"],
            "followers": [1000, 500, 400],
            "followers_previous": [900, 500, 400],
            "follower_growth": [100, 0, 0],
            "posts": [2, 0, 0],
            "video_posts": [1, 0, 0],
            "active_days": [2, 0, 0],
            "interactions": [17, 0, 0],  # the plain count: 10 + 2 + 1 and 3 + 1 (+ a withheld share)
            "views": [None, None, None],
            "exposures": [700, None, None],
        },
        schema_overrides={"views": pl.Int64},
    )


def posts() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "platform": ["facebook", "facebook"],
            "city_id": ["a", "a"],
            "account_handle": ["a_main", "a_main"],
            "published_at_beijing": [datetime(2024, 9, 1, 9), datetime(2024, 9, 2, 9)],
            "likes": [10, 3],
            "comments": [2, 1],
            "shares": [1, None],  # a count the platform withheld adds nothing
            "exposures": [500, 200],
            "views": [None, None],
        },
        schema_overrides={"views": pl.Int64},
    )


def test_interaction_parts_are_weighted_as_the_methodology_says():
    # facebook weights: likes 1, comments 2, shares 3
    # post 1: 10 + 2 x 2 + 3 x 1 = 17; post 2: 3 + 2 x 1 + 0 = 5; a = 22 (the plain count is 17)
    a = (
        method.city_indicators(account_metrics(), posts(), "facebook", CURRENT)
        .filter(city_id="a")
        .row(0, named=True)
    )
    assert CURRENT.interaction_weights["facebook"] == {"likes": 1.0, "comments": 2.0, "shares": 3.0}
    assert a["interactions"] == pytest.approx(22.0, **EXACT)
    assert a["interactions_per_post"] == pytest.approx(11.0, **EXACT)
    assert a["interactions_per_thousand_followers"] == pytest.approx(22 / 1500 * 1000, **EXACT)
    before = method.city_indicators(account_metrics(), posts(), "facebook", LEGACY).filter(city_id="a")
    assert before["interactions"][0] == 17.0, "0.4.0 counts every part once"


def test_weights_of_one_give_the_plain_count():
    ones = {p: dict.fromkeys(parts, 1.0) for p, parts in CURRENT.interactions.items()}
    plain = dataclasses.replace(CURRENT, interaction_weights=ones)
    a = method.city_indicators(account_metrics(), posts(), "facebook", plain).filter(city_id="a")
    assert a["interactions"][0] == 17.0


def test_a_silent_city_has_zero_views_and_a_withheld_measure_stays_missing():
    now = method.city_indicators(account_metrics(), posts(), "facebook", CURRENT).sort("city_id")
    a, b = now.to_dicts()
    assert a["views"] == 700.0, "the silent account of a adds 0 to the posts' 700 exposures"
    assert b["posts"] == 0 and b["interactions"] == 0 and b["views"] == 0.0
    assert b["interactions_per_post"] is None and b["video_share"] is None, "undefined without a post"
    assert b["interactions_per_thousand_followers"] == 0.0
    before = method.city_indicators(account_metrics(), posts(), "facebook", LEGACY).filter(city_id="b")
    assert before["views"][0] is None, "0.4.0 left a silent city's views missing"
    withheld = posts().with_columns(pl.lit(None, pl.Int64).alias("exposures"))
    a_withheld = method.city_indicators(account_metrics(), withheld, "facebook", CURRENT).filter(city_id="a")
    assert a_withheld["views"][0] is None, "posts that do not report the measure leave it missing"


def test_a_silent_city_scores_lowest_on_views():
    indicators = method.platform_indicators(account_metrics(), posts(), CURRENT, ("facebook",))
    views = dict(indicators.filter(indicator="views").select("city_id", "normalised").iter_rows())
    assert views["b"] < views["a"]


def month_metrics() -> pl.DataFrame:
    rows = [
        # platform, active days, interactions, exposures, views
        ("facebook", 10, 300, 9000, None),
        ("facebook", 20, 100, 1000, None),
        ("x", 6, 100, 2000, None),
        ("instagram", 12, 400, 6000, None),
        ("youtube", 4, 100, None, 2000),
        ("youtube", 0, 0, None, None),  # a silent channel counts in the mean active days
    ]
    return pl.DataFrame(
        rows, schema=["platform", "active_days", "interactions", "exposures", "views"], orient="row"
    )


def reference() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "platform": ["facebook", "x", "instagram", "youtube"],
            "monthly_active_users_month": [3000.0, 500.0, 2000.0, 2500.0],
            "users_basis": ["by hand"] * 4,
        }
    )


def test_platform_activity_measures_the_months_accounts():
    activity = method.platform_activity(month_metrics(), CURRENT, ("facebook", "x", "instagram", "youtube"))
    rows = {r["platform"]: r for r in activity.to_dicts()}
    assert rows["facebook"] | {} == {
        "platform": "facebook", "accounts": 2, "mean_active_days": 15.0, "interactions": 400, "views": 10000,
    }  # fmt: skip
    assert rows["youtube"]["mean_active_days"] == 2.0 and rows["youtube"]["views"] == 2000, "YouTube: plays"


def test_monthly_platform_weights_worked_by_hand():
    platforms = ("facebook", "x", "instagram", "youtube")
    activity = method.platform_activity(month_metrics(), CURRENT, platforms)
    weights = method.platform_weights(reference(), CURRENT, platforms, activity=activity)
    # user scale 3000 / 8000; activity 15 / (15 + 6 + 12 + 2) = 15 / 35;
    # relevance (400 / 1000 + 10000 / 20000) / 2 = 0.45
    facebook = weights.filter(platform="facebook").row(0, named=True)
    assert facebook["user_scale_share"] == pytest.approx(3000 / 8000, **EXACT)
    assert facebook["activity_share"] == pytest.approx(15 / 35, **EXACT)
    assert facebook["relevance_share"] == pytest.approx(0.45, **EXACT)
    assert facebook["weight"] == pytest.approx(0.4 * 3000 / 8000 + 0.3 * 15 / 35 + 0.3 * 0.45, **EXACT)
    assert weights["weight"].sum() == pytest.approx(1.0, **EXACT)
    assert facebook["mean_active_days"] == 15.0 and facebook["users_basis"] == "by hand"
    youtube = weights.filter(platform="youtube").row(0, named=True)
    assert youtube["relevance_share"] == pytest.approx((100 / 1000 + 2000 / 20000) / 2, **EXACT)


def test_monthly_weights_over_the_platforms_entering_the_index_only():
    platforms = ("facebook", "x")
    activity = method.platform_activity(month_metrics(), CURRENT, platforms)
    weights = method.platform_weights(reference(), CURRENT, platforms, activity=activity)
    assert weights["platform"].to_list() == ["facebook", "x"]
    x = weights.filter(platform="x").row(0, named=True)
    assert x["relevance_share"] == pytest.approx((100 / 500 + 2000 / 12000) / 2, **EXACT)


def test_monthly_weights_refuse_a_month_without_its_measures():
    platforms = ("facebook", "x", "instagram", "youtube")
    with pytest.raises(ValueError, match="need the month's platform activity"):
        method.platform_weights(reference(), CURRENT, platforms)
    silent = month_metrics().with_columns(pl.lit(0).alias("interactions"))
    with pytest.raises(ValueError, match="no monitored account of the month has any interactions"):
        method.platform_weights(
            reference(), CURRENT, platforms, activity=method.platform_activity(silent, CURRENT, platforms)
        )
    with pytest.raises(ValueError, match="user scale"):
        method.platform_weights(
            reference().with_columns(pl.lit(None, pl.Float64).alias("monthly_active_users_month")),
            CURRENT,
            platforms,
            activity=method.platform_activity(month_metrics(), CURRENT, platforms),
        )


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"likes": 1.0, "comments": 2.0}, r"interaction_weights\.facebook must weigh exactly"),
        ({"likes": 1.0, "comments": 2.0, "shares": 0.0}, r"\['shares'\] must be positive"),
    ],
)
def test_interaction_weights_must_weigh_each_counted_part(weights, message):
    broken = dataclasses.replace(
        CURRENT, interaction_weights={**CURRENT.interaction_weights, "facebook": weights}
    )
    with pytest.raises(MethodologyError, match=message):
        validate(broken)


def test_the_new_rules_are_values_the_methodology_knows():
    with pytest.raises(MethodologyError, match="silent_accounts must be one of"):
        validate(dataclasses.replace(CURRENT, silent_accounts="average"))
    with pytest.raises(MethodologyError, match="platform_weight_inputs must be one of"):
        validate(dataclasses.replace(CURRENT, platform_weight_inputs="fixed"))
    assert (LEGACY.silent_accounts, LEGACY.platform_weight_inputs, LEGACY.interaction_weights) == (
        "missing", "reference", None,
    )  # fmt: skip


def test_the_uncertainty_analysis_draws_the_unweighted_count_as_the_other_rule():
    variants = method.interaction_weight_variants(account_metrics(), posts(), CURRENT, ("facebook",))
    assert list(variants) == ["unweighted"]
    unweighted = variants["unweighted"].filter(city_id="a", indicator="interactions")
    assert unweighted["raw_value"][0] == 17.0, "every part counted once"
    assert method.interaction_weight_variants(account_metrics(), posts(), LEGACY, ("facebook",)) == {}


def test_the_parts_of_the_interactions_indicator_are_what_the_trace_shows():
    from cityindex_pipeline.method.indicators import interaction_parts

    parts = interaction_parts(posts(), "facebook", CURRENT)
    assert parts == (("likes", 1.0, 13), ("comments", 2.0, 3), ("shares", 3.0, 1))
    assert sum(weight * total for _, weight, total in parts) == 22.0, "the indicator worked by hand above"
    assert [weight for _, weight, _ in interaction_parts(posts(), "facebook", LEGACY)] == [1.0, 1.0, 1.0]
