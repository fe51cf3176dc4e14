"""The plain quality rules on small tables: each passes on good data and names what fails on bad data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl

from cityindex_pipeline import quality
from cityindex_pipeline.core.months import Month

SEPTEMBER = Month(2024, 9)
PAGE = json.dumps({"id": "1", "followers_count": 10})
FB_ERROR = json.dumps({"error": {"message": "(#4) Application request limit reached", "code": 4}})
X_ERROR = json.dumps({"title": "Too Many Requests", "status": 429, "type": "about:blank"})


def documents(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    """(account_handle, endpoint, body) -> raw documents with usability."""
    frame = pl.DataFrame(
        [
            {
                "platform": "facebook",
                "account_handle": handle,
                "endpoint": endpoint,
                "page": 1,
                "body": body,
                "sha256": f"sha-{handle}-{endpoint}",
                "request_url": f"landing://facebook/2024-09/{handle}/{endpoint}.json",
            }
            for handle, endpoint, body in rows
        ],
        schema={
            "platform": pl.String, "account_handle": pl.String, "endpoint": pl.String, "page": pl.Int32,
            "body": pl.String, "sha256": pl.String, "request_url": pl.String,
        },
    )  # fmt: skip
    return quality.with_usability(frame)


def accounts(*handles: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "platform": ["facebook"] * len(handles),
            "city_id": [h.lower() for h in handles],
            "account_handle": list(handles),
        }
    )


def problems(rows: list[tuple[str, str]]) -> pl.DataFrame:
    """(account_handle, sha256) -> rows of raw.source_problems."""
    return pl.DataFrame(
        [
            {"platform": "facebook", "account_handle": h, "sha256": s, "reason": "an API error body"}
            for h, s in rows
        ],
        schema={"platform": pl.String, "account_handle": pl.String, "sha256": pl.String, "reason": pl.String},
    )


def test_unusable_reason_knows_graph_and_x_error_bodies_and_broken_json():
    assert quality.unusable_reason(PAGE) is None
    assert "request limit" in quality.unusable_reason(FB_ERROR)
    assert "429" in quality.unusable_reason(X_ERROR)
    assert "HTML" in quality.unusable_reason("<!DOCTYPE html><html>")


def test_accounts_covered_fails_on_an_account_without_documents_or_recorded_problem():
    docs = documents([("A", "page", PAGE), ("B", "page", PAGE)])
    finding = quality.accounts_covered(accounts("A", "B", "C"), docs, problems([]))
    assert not finding.passed and finding.failed_rows == 1
    assert finding.sample[0]["account_handle"] == "C"
    assert "deliver" in finding.fix


def test_accounts_covered_accepts_a_recorded_problem_as_the_reason():
    docs = documents([("A", "page", PAGE), ("C", "page", FB_ERROR)])
    finding = quality.accounts_covered(
        accounts("A", "C"), docs, problems([("C", "sha-C-page")]), not_started=2
    )
    assert finding.passed
    assert finding.extra["explained_by_recorded_problem"][0]["account_handle"] == "C"
    assert finding.extra["accounts_not_yet_started"] == 2


def test_an_account_with_only_an_error_body_is_not_covered():
    docs = documents([("A", "page", PAGE), ("C", "page", FB_ERROR)])
    assert not quality.accounts_covered(accounts("A", "C"), docs, problems([])).passed


def test_error_bodies_must_be_recorded_as_problems():
    docs = documents([("A", "page", PAGE), ("C", "posts", FB_ERROR), ("D", "posts", X_ERROR)])
    finding = quality.error_bodies_recorded(docs, problems([("C", "sha-C-posts")]))
    assert not finding.passed and finding.failed_rows == 1
    assert finding.sample[0]["account_handle"] == "D" and "429" in finding.sample[0]["reason"]
    assert quality.error_bodies_recorded(docs, problems([("C", "sha-C-posts"), ("D", "sha-D-posts")])).passed


def test_document_counts_band_warns_on_a_truncated_pull_but_not_on_small_swings():
    previous = documents(
        [("A", "posts", PAGE)] * 12 + [("B", "posts", PAGE)] * 7 + [("C", "posts", PAGE)] * 2
    )
    current = documents([("A", "posts", PAGE)] * 2 + [("B", "posts", PAGE)] * 2 + [("C", "posts", PAGE)] * 12)
    finding = quality.document_counts_plausible(current, previous)
    assert not finding.passed
    assert [row["account_handle"] for row in finding.sample] == ["A"]  # 12 -> 2: below 0.25x
    assert quality.document_counts_plausible(current, previous.clear()).passed, "no previous month"


def test_error_bodies_do_not_count_as_documents_in_the_band():
    previous = documents([("A", "posts", PAGE)] * 8)
    current = documents([("A", "posts", FB_ERROR)] * 8)
    assert not quality.document_counts_plausible(current, previous).passed


def metrics(rows: list[dict]) -> pl.DataFrame:
    base = {"platform": "facebook", "city_id": "a", "account_handle": "A", "followers": 100,
            "followers_previous": 100, "posts": 0, "interactions": 0, "interactions_per_post": None}  # fmt: skip
    return pl.DataFrame([base | row for row in rows], schema_overrides={"interactions_per_post": pl.Float64})


def test_followers_present_allows_hidden_counts_and_explained_accounts_only():
    frame = metrics(
        [{"account_handle": "A"}, {"account_handle": "B", "followers": None, "platform": "youtube"}]
    )
    active = pl.DataFrame(
        {
            "platform": ["facebook", "youtube", "x"],
            "city_id": ["a", "b", "c"],
            "account_handle": ["A", "B", "C"],
        }
    )
    none = pl.DataFrame(schema={"platform": pl.String, "account_handle": pl.String})
    failed = quality.followers_present(frame, active, none, none)
    assert failed.failed_rows == 2
    assert {row["problem"] for row in failed.sample} == {
        "followers missing and not hidden by the platform",
        "no metrics for an active account",
    }
    hidden = pl.DataFrame({"platform": ["youtube"], "account_handle": ["B"]})
    explained = pl.DataFrame({"platform": ["x"], "account_handle": ["C"]})
    assert quality.followers_present(frame, active, hidden, explained).passed


def test_hidden_follower_counts_read_the_channel_document():
    body = json.dumps(
        {"items": [{"id": "UC1", "statistics": {"hiddenSubscriberCount": True, "viewCount": "5"}}]}
    )
    shown = json.dumps({"items": [{"id": "UC2", "statistics": {"hiddenSubscriberCount": False}}]})
    odd = [
        json.dumps({"items": ["UC3"]}),
        json.dumps({"items": [{"statistics": "hidden"}]}),
    ]  # read, not raised
    docs = pl.DataFrame(
        {
            "platform": ["youtube"] * 4,
            "account_handle": ["hidden", "shown", "odd", "odder"],
            "endpoint": ["channel"] * 4,
            "body": [body, shown, *odd],
        }
    )
    assert quality.hidden_follower_counts(docs)["account_handle"].to_list() == ["hidden"]


def test_interactions_consistent_reconciles_posts_parts_accounts_and_rates():
    posts = pl.DataFrame(
        {
            "platform": ["facebook", "facebook"],
            "account_handle": ["A", "A"],
            "post_id": ["p1", "p2"],
            "likes": [3, 1],
            "comments": [2, None],
            "shares": [None, 1],
            "interactions": [5, 2],
        }
    )
    parts = {"facebook": ("likes", "comments", "shares")}
    good = metrics([{"posts": 2, "interactions": 7, "interactions_per_post": 3.5}])
    assert quality.interactions_consistent(good, posts, parts).passed
    bad_rate = metrics([{"posts": 2, "interactions": 7, "interactions_per_post": 4.0}])
    finding = quality.interactions_consistent(bad_rate, posts, parts)
    assert finding.failed_rows == 1 and finding.sample[0]["problem"].startswith("interactions_per_post")
    bad_post = posts.with_columns(
        pl.when(pl.col("post_id") == "p1").then(9).otherwise("interactions").alias("interactions")
    )
    problems_found = {r["problem"] for r in quality.interactions_consistent(good, bad_post, parts).sample}
    assert problems_found == {
        "post interactions differ from the sum of their parts",
        "account interactions differ from the sum over its posts",
    }


def test_ranks_must_be_competition_ranks_of_the_scores():
    good = pl.DataFrame({"city_id": list("abcd"), "score": [9.0, 8.0, 8.0, 1.0], "rank": [1, 2, 2, 4]})
    assert quality.ranks_consistent(good).passed
    dense = good.with_columns(pl.Series("rank", [1, 2, 2, 3]))
    assert quality.ranks_consistent(dense).failed_rows == 1
    swapped = good.with_columns(pl.Series("rank", [2, 1, 1, 4]))
    assert quality.ranks_consistent(swapped).failed_rows == 3


def test_platform_ranks_also_check_the_top_ten_flag():
    rows = pl.DataFrame(
        {
            "platform": ["x"] * 12,
            "city_id": [f"c{i}" for i in range(12)],
            "score": [float(100 - i) for i in range(12)],
            "rank": list(range(1, 13)),
            "in_top_ten": [True] * 10 + [False] * 2,
        }
    )
    assert quality.platform_ranks_consistent(rows).passed
    wrong = rows.with_columns(pl.Series("in_top_ten", [True] * 11 + [False]))
    assert quality.platform_ranks_consistent(wrong).failed_rows == 1


def test_qualitative_policy_needs_every_city_and_criterion_and_the_panel_mean():
    criteria = ("content_quality", "cultural_distinctiveness")
    cities = pl.DataFrame({"city_id": ["a", "b"]})
    panel = pl.DataFrame(
        {
            "city_id": ["a", "a", "b", "b"],
            "rater": ["r1"] * 4,
            "criterion": [*criteria, *criteria],
            "score": [60.0, 80.0, 50.0, 50.0],
            "source": ["panel"] * 4,
        }
    )
    index = pl.DataFrame({"city_id": ["a", "b"], "qualitative_score": [70.0, 50.0]})
    assert quality.qualitative_complete(panel, index, cities, criteria).passed
    unscored = quality.qualitative_complete(panel.filter(pl.col("city_id") == "a"), index, cities, criteria)
    assert unscored.sample == [{"city_id": "b", "problem": "not scored on every criterion"}]
    wrong_mean = index.with_columns(pl.Series("qualitative_score", [71.0, 50.0]))
    assert not quality.qualitative_complete(panel, wrong_mean, cities, criteria).passed
    out_of_range = panel.with_columns(pl.Series("score", [60.0, 80.0, 50.0, 150.0]))
    assert not quality.qualitative_complete(out_of_range, index, cities, criteria).passed


def test_a_month_is_publishable_only_after_it_closed_and_settled():
    opens = quality.publishable_from(SEPTEMBER, 5)
    assert opens == datetime(2024, 10, 5, 16, 0, tzinfo=UTC)  # 1 October 00:00 Beijing + 5 days
    early = quality.month_settled(SEPTEMBER, datetime(2024, 10, 3, tzinfo=UTC), 5)
    assert not early.passed and "2024-10-05T16:00:00+00:00" in early.fix
    assert quality.month_settled(SEPTEMBER, opens, 5).passed
    assert quality.month_settled(SEPTEMBER, datetime(2024, 10, 1, tzinfo=UTC), 0).passed


def test_roster_and_scores_findings_say_what_to_fix():
    cities = pl.DataFrame({"city_id": ["a", "b"]})
    index = pl.DataFrame({"city_id": ["a"], "score": [120.0]})
    roster = quality.roster_complete(index, cities)
    assert roster.sample == [{"city_id": "b", "problem": "missing"}] and roster.fix
    assert quality.scores_in_range(index).sample == [{"city_id": "a", "score": 120.0}]
    assert quality.roster_complete(cities.with_columns(score=pl.lit(1.0)), cities).fix == ""
