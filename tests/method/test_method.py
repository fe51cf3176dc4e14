"""The index method's steps on small tables whose answers can be worked out by hand."""

import dataclasses
from datetime import datetime

import polars as pl
import pytest

from cityindex_pipeline import method
from cityindex_pipeline.method.config import Aggregation, MethodologyError, load_methodology, validate
from cityindex_pipeline.reference.platforms import load_platform_reference

M = load_methodology()
LEGACY = load_methodology("0.4.0")


def metrics(rows):
    base = {
        "platform": "facebook", "followers": None, "followers_previous": None, "follower_growth": None,
        "posts": 0, "video_posts": 0, "interactions": 0,
    }  # fmt: skip
    return pl.DataFrame([base | row for row in rows])


def posts(rows):
    base = {"platform": "facebook", "exposures": None, "views": None}
    return pl.DataFrame([base | row for row in rows]).with_columns(
        pl.col("published_at_beijing").cast(pl.Datetime("us"))
    )


def test_city_indicators_aggregate_accounts_and_keep_missing_null():
    frame = method.city_indicators(
        metrics(
            [
                {
                    "city_id": "a",
                    "followers": 1000,
                    "followers_previous": 800,
                    "follower_growth": 200,
                    "posts": 2,
                    "video_posts": 1,
                    "interactions": 30,
                },
                {"city_id": "a", "followers": None, "posts": 1, "interactions": 10},
                {"city_id": "b", "followers": 50, "posts": 0},
            ]
        ),
        posts(
            [
                {"city_id": "a", "published_at_beijing": datetime(2024, 9, 1, 9), "exposures": 100},
                {"city_id": "a", "published_at_beijing": datetime(2024, 9, 1, 20), "exposures": None},
                {"city_id": "a", "published_at_beijing": datetime(2024, 9, 3, 9), "exposures": 50},
            ]
        ),
        "facebook",
        LEGACY,
    )
    a, b = frame.sort("city_id").to_dicts()
    assert a["posts"] == 3 and a["active_days"] == 2 and a["accounts"] == 2
    assert a["interactions_per_post"] == pytest.approx(40 / 3)
    assert a["video_share"] == pytest.approx(1 / 3)
    assert a["followers"] == 1000, "a withheld follower count is not added as zero"
    assert a["interactions_per_thousand_followers"] == pytest.approx(30 / 1000 * 1000), (
        "only accounts with followers"
    )
    assert a["follower_growth_rate"] == pytest.approx(0.25)
    assert a["views"] == 150
    assert b["interactions_per_post"] is None and b["views"] is None and b["follower_growth_rate"] is None


def test_normalise_min_max_constant_and_missing():
    long = pl.DataFrame(
        {
            "platform": ["x"] * 6,
            "city_id": ["a", "b", "c", "a", "b", "c"],
            "indicator": ["posts"] * 3 + ["views"] * 3,
            "treated_value": [1.0, 3.0, 2.0, 5.0, 5.0, None],
        }
    )
    out = method.normalise(long).sort("indicator", "city_id")["normalised"].to_list()
    assert out == [0.0, 100.0, 50.0, 50.0, 50.0, None]


def test_aggregate_rescales_weights_over_present_indicators():
    long = pl.DataFrame(
        {
            "platform": ["x"] * 3,
            "city_id": ["a"] * 3,
            "dimension": ["generate", "generate", "generate"],
            "indicator": ["posts", "active_days", "video_share"],
            "indicator_weight": [0.4, 0.4, 0.2],
            "normalised": [100.0, 50.0, None],
        }
    )
    (row,) = method.aggregate_platform(long, LEGACY).to_dicts()
    assert row["generate_score"] == pytest.approx((100 * 0.4 + 50 * 0.4) / 0.8)
    assert row["interactive_score"] == 0.0
    assert row["score"] == pytest.approx(0.3 * row["generate_score"])


def test_rank_is_competition_ranking_highest_first():
    ranked = method.rank(pl.DataFrame({"city_id": ["a", "b", "c", "d"], "score": [10.0, 30.0, 30.0, 5.0]}))
    assert dict(ranked.select("city_id", "rank").iter_rows()) == {"b": 1, "c": 1, "a": 3, "d": 4}


def test_platform_weights_sum_to_one_and_follow_the_criteria():
    weights = method.platform_weights(load_platform_reference(), LEGACY)
    assert weights["weight"].sum() == pytest.approx(1.0)
    assert weights["platform"].to_list() == ["facebook", "x", "instagram", "youtube"]
    x = weights.filter(platform="x").row(0, named=True)
    expected = 0.4 * x["user_scale_share"] + 0.3 * x["activity_share"] + 0.3 * x["relevance_share"]
    assert x["weight"] == pytest.approx(expected)


def test_comprehensive_index_absent_platform_counts_zero_and_shares_are_80_20():
    cities = pl.DataFrame({"city_id": ["a", "b", "c"]})
    scores = pl.DataFrame(
        {"platform": ["facebook", "x", "facebook"], "city_id": ["a", "a", "b"], "score": [80.0, 40.0, 100.0]}
    )
    weights = pl.DataFrame({"platform": ["facebook", "x"], "weight": [0.75, 0.25]})
    panel = pl.DataFrame({"city_id": ["a", "a", "b", "c"], "score": [60.0, 80.0, 40.0, 90.0]})
    previous = pl.DataFrame({"city_id": ["a", "b"], "score": [50.0, 70.0], "rank": [2, 1]})
    out = {
        r["city_id"]: r
        for r in method.comprehensive_index(cities, scores, weights, panel, previous, M).to_dicts()
    }
    assert out["a"]["quantitative_score"] == pytest.approx(0.75 * 80 + 0.25 * 40)
    assert out["a"]["score"] == pytest.approx(0.8 * 70 + 0.2 * 70)
    assert out["c"]["quantitative_score"] == 0.0 and out["c"]["platforms_present"] == 0
    assert out["b"]["score"] == pytest.approx(0.8 * 75 + 0.2 * 40)
    assert (out["a"]["rank"], out["b"]["rank"], out["c"]["rank"]) == (1, 2, 3)
    assert (
        out["a"]["rank_change"] == 1
        and out["b"]["rank_change"] == -1
        and out["a"]["score_change"] == pytest.approx(20.0)
    )
    assert out["c"]["previous_rank"] is None


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("min-max", [0.0, 50.0, 100.0, None]),
        ("rank", [0.0, 50.0, 100.0, None]),
        ("distance-to-best", [25.0, 62.5, 100.0, None]),
        ("z-score", [50.0 - 15.0, 50.0, 50.0 + 15.0, None]),
    ],
)
def test_each_normalisation_by_hand(how, expected):
    long = pl.DataFrame(
        {
            "platform": ["x"] * 4,
            "city_id": ["a", "b", "c", "d"],
            "indicator": ["posts"] * 4,
            "treated_value": [1.0, 2.5, 4.0, None],
        }
    )
    normalised = method.normalise(long, how).sort("city_id")["normalised"].to_list()
    assert normalised[:3] == pytest.approx(expected[:3])
    assert normalised[3] is None, "a missing value stays missing"


GEOMETRIC = dataclasses.replace(M, aggregation=Aggregation(dimensions="geometric", platforms="geometric"))


def test_geometric_dimension_aggregation_by_hand():
    long = pl.DataFrame(
        {
            "platform": ["x"] * 3,
            "city_id": ["a"] * 3,
            "dimension": ["generate", "interactive", "utilize"],
            "indicator": ["posts", "interactions", "followers"],
            "indicator_weight": [0.4, 0.4, 0.4],
            "normalised": [0.0, 80.0, 35.0],
        }
    )
    (row,) = method.aggregate_platform(long, GEOMETRIC).to_dicts()
    # (0 + 1)^0.3 (80 + 1)^0.4 (35 + 1)^0.3 - 1: a zero dimension does not zero the score
    assert row["score"] == pytest.approx(81**0.4 * 36**0.3 - 1, abs=1e-12)
    (arithmetic,) = method.aggregate_platform(long, M).to_dicts()
    assert arithmetic["score"] == pytest.approx(0.4 * 80 + 0.3 * 35)
    assert row["score"] < arithmetic["score"], "the geometric mean penalises unbalanced profiles"


def test_geometric_platform_aggregation_by_hand_absent_platform_scores_zero():
    cities = pl.DataFrame({"city_id": ["a", "b", "c"]})
    scores = pl.DataFrame(
        {"platform": ["facebook", "x", "facebook"], "city_id": ["a", "a", "b"], "score": [80.0, 40.0, 100.0]}
    )
    weights = pl.DataFrame({"platform": ["facebook", "x"], "weight": [0.75, 0.25]})
    panel = pl.DataFrame({"city_id": ["a", "b", "c"], "score": [50.0, 50.0, 50.0]})
    previous = pl.DataFrame(schema={"city_id": pl.String, "score": pl.Float64, "rank": pl.Int32})
    out = {
        r["city_id"]: r
        for r in method.comprehensive_index(cities, scores, weights, panel, previous, GEOMETRIC).to_dicts()
    }
    assert out["a"]["quantitative_score"] == pytest.approx(81**0.75 * 41**0.25 - 1, abs=1e-12)
    assert out["b"]["quantitative_score"] == pytest.approx(101**0.75 * 1**0.25 - 1, abs=1e-12)
    assert out["c"]["quantitative_score"] == 0.0
    assert method.combine([80.0, 40.0], [0.75, 0.25], "geometric") == pytest.approx(
        out["a"]["quantitative_score"], abs=1e-12
    )


def test_geometric_means_stay_within_0_and_100():
    for scores in ([0.0, 0.0, 0.0], [100.0, 100.0, 100.0], [0.0, 100.0, 50.0]):
        value = method.combine(scores, [0.3, 0.4, 0.3], "geometric")
        assert 0.0 <= value <= 100.0 + 1e-12
    assert method.combine([100.0] * 3, [0.3, 0.4, 0.3], "geometric") == pytest.approx(100.0)


def test_the_methodology_rejects_an_unknown_aggregation():
    with pytest.raises(MethodologyError, match="aggregation"):
        validate(dataclasses.replace(M, aggregation=Aggregation(dimensions="harmonic")))
    with pytest.raises(MethodologyError, match="geometric_shift"):
        validate(dataclasses.replace(M, aggregation=Aggregation(geometric_shift=0.0)))


def test_a_tie_at_the_last_place_puts_every_tied_city_in_the_top_ten():
    scores = pl.DataFrame(
        {
            "city_id": [f"c{i:02d}" for i in range(12)],
            "score": [float(100 - i) for i in range(9)] + [50.0, 50.0, 40.0],
        }
    )
    ranked = method.rank(scores)
    top = method.top_ten(ranked, M)
    assert top["city_id"].to_list() == [*(f"c{i:02d}" for i in range(9)), "c09", "c10"]
    assert top["rank"].to_list()[-2:] == [10, 10]
    assert ranked.filter(city_id="c11")["rank"][0] == 12, "the place after a tie is skipped"


def test_an_unordered_top_ten_is_alphabetical_without_ranks_or_scores():
    ranked = pl.DataFrame(
        {
            "city_id": ["nanjing", "beijing", "chengdu", "xian"],
            "name_en": ["Nanjing", "Beijing", "Chengdu", "Xi'an"],
            "score": [90.0, 80.0, 70.0, 10.0],
            "rank": [1, 2, 3, 4],
        }
    )
    unordered = dataclasses.replace(M, top_ten_order="alphabetical", top_n=3)
    top = method.top_ten(ranked, unordered)
    assert top.columns == ["city_id", "name_en"]
    assert top["name_en"].to_list() == ["Beijing", "Chengdu", "Nanjing"]
    assert method.top_ten(ranked, dataclasses.replace(M, top_n=3))["name_en"].to_list() == [
        "Nanjing",
        "Beijing",
        "Chengdu",
    ]
    with pytest.raises(MethodologyError, match="top_ten_order"):
        validate(dataclasses.replace(M, top_ten_order="random"))


def test_platform_index_reports_score_and_rank_change_against_the_previous_month():
    long = pl.DataFrame(
        {
            "platform": ["x"] * 3,
            "city_id": ["a", "b", "c"],
            "dimension": ["generate"] * 3,
            "indicator": ["posts"] * 3,
            "indicator_weight": [1.0] * 3,
            "normalised": [100.0, 0.0, 50.0],
        }
    )
    previous = pl.DataFrame(
        {"platform": ["x", "x"], "city_id": ["a", "b"], "score": [10.0, 20.0], "rank": [2, 1]}
    )
    out = {r["city_id"]: r for r in method.platform_index(long, LEGACY, previous).to_dicts()}
    assert out["a"]["score"] == pytest.approx(30.0) and out["a"]["score_change"] == pytest.approx(20.0)
    assert out["a"]["rank_change"] == 1 and out["b"]["rank_change"] == -2
    assert out["c"]["previous_rank"] is None and out["c"]["score_change"] is None, "new: no change"
    assert all(r["in_top_ten"] for r in out.values())
