"""Plausibility on small tables, with the shipped bounds: each count against the account's previous
month and its platform's maximum, the known jumps that excuse one, and the two files refused with the
line that is wrong."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cityindex_pipeline import quality
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.plausibility import (
    JUMP_SCHEMA,
    POST_COUNTS,
    SCOPES,
    PlausibilityFileError,
    load_bounds,
    load_known_jumps,
)

SEPTEMBER = Month(2024, 9)
BOUNDS = load_bounds()
NO_JUMPS = pl.DataFrame(schema=JUMP_SCHEMA)
NO_POSTS = pl.DataFrame(
    schema={
        "platform": pl.String,
        "city_id": pl.String,
        "account_handle": pl.String,
        "post_id": pl.String,
        **dict.fromkeys(POST_COUNTS, pl.Int64),
        "interactions_complete": pl.Boolean,
    }
)
"""The columns of clean.posts the rules read."""
METRIC_SCHEMA = {"platform": pl.String, "city_id": pl.String, "account_handle": pl.String,
                 "followers": pl.Int64, "posts": pl.Int64, "interactions": pl.Int64, "views": pl.Int64,
                 "exposures": pl.Int64}  # fmt: skip
"""The columns of clean.account_metrics the rules read."""


def bound(platform: str, measure: str, column: str, scope: str = "account") -> float:
    return BOUNDS.filter(platform=platform, scope=scope, measure=measure)[column].item()


def metrics(*rows: dict) -> pl.DataFrame:
    """Account-month rows; a large Facebook account by default."""
    base = {"platform": "facebook", "city_id": "a", "account_handle": "A", "followers": 500_000, "posts": 40,
            "interactions": 200_000, "views": None, "exposures": 4_000_000}  # fmt: skip
    return pl.DataFrame([base | row for row in rows], schema=METRIC_SCHEMA)


def posts(
    handle: str, interactions: list[int | None], platform: str = "instagram", **columns
) -> pl.DataFrame:
    """One account's posts: their interactions (None: a part withheld), and other counts per post."""
    n = len(interactions)
    return pl.DataFrame(
        {
            "platform": [platform] * n,
            "city_id": ["a"] * n,
            "account_handle": [handle] * n,
            "post_id": [f"{handle}-{i}" for i in range(n)],
            **{count: columns.get(count, [None] * n) for count in POST_COUNTS},
            "likes": [v or 0 for v in interactions],
            "interactions": [v or 0 for v in interactions],
            "interactions_complete": [v is not None for v in interactions],
        },
        schema=NO_POSTS.schema,
    )


def changes(current: pl.DataFrame, previous: pl.DataFrame, jumps: pl.DataFrame = NO_JUMPS, **post_frames):
    return quality.changes_plausible(
        current,
        previous,
        post_frames.get("posts", NO_POSTS),
        post_frames.get("previous_posts", NO_POSTS),
        BOUNDS,
        jumps,
    )


def jumps(*rows: tuple[str, str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=JUMP_SCHEMA, orient="row")


def test_the_shipped_files_bound_every_platform_scope_and_measure_and_flag_nothing():
    assert BOUNDS.height == 4 * sum(len(measures) for measures in SCOPES.values())
    assert BOUNDS["source"].str.len_chars().min() > 10, "every bound says where it comes from"
    assert load_known_jumps(SEPTEMBER).height == 0


# One account per measure, on a platform that gives it; previous month far above the floor.
RISES = [("facebook", "followers"), ("x", "posts"), ("instagram", "interactions"), ("youtube", "views"),
         ("instagram", "exposures")]  # fmt: skip


@pytest.mark.parametrize(("platform", "measure"), RISES)
def test_a_rise_beyond_the_factor_fails_naming_account_measure_values_ratio_and_bound(platform, measure):
    factor, floor = bound(platform, measure, "rise_factor"), bound(platform, measure, "floor")
    before = round(floor * 10)
    previous = metrics({"platform": platform, measure: before})
    within = changes(metrics({"platform": platform, measure: round(before * factor * 0.9)}), previous)
    assert within.passed, within.sample
    jumped = changes(metrics({"platform": platform, measure: round(before * factor * 1.5)}), previous)
    assert not jumped.passed and jumped.failed_rows == 1
    (row,) = jumped.sample
    assert (row["platform"], row["account_handle"], row["measure"], row["direction"]) == (
        platform, "A", measure, "rise"
    )  # fmt: skip
    assert row["previous"] == before and row["current"] == round(before * factor * 1.5)
    assert row["ratio"] == pytest.approx(factor * 1.5, rel=1e-6) and row["bound"] == factor
    assert "known_jumps.csv" in jumped.fix


def test_a_tenfold_follower_jump_of_a_large_account_fails_with_the_defaults():
    finding = changes(metrics({"followers": 5_000_000}), metrics({"followers": 500_000}))
    assert not finding.passed and finding.sample[0]["ratio"] == pytest.approx(10)


def test_a_follower_fall_beyond_the_bound_is_follower_change_within_bounds_alone():
    previous = metrics({"followers": 100_000})
    fell = metrics({"followers": 40_000})
    dropped = quality.follower_change_within_bounds(fell, previous, BOUNDS, NO_JUMPS)
    assert not dropped.passed and dropped.sample[0]["ratio"] == pytest.approx(0.4)
    assert dropped.sample[0]["direction"] == "fall" and dropped.sample[0]["bound"] == 0.5
    assert "lost more than 50%" in dropped.detail
    assert changes(fell, previous).passed, "one check per failure: changes_plausible leaves follower falls"
    assert quality.follower_change_within_bounds(
        metrics({"followers": 60_000}), previous, BOUNDS, NO_JUMPS
    ).passed


def test_small_accounts_swing_below_the_floor_but_a_thousandfold_jump_of_one_fails():
    previous = metrics({"followers": 30, "posts": 2, "interactions": 40, "exposures": 900})
    swung = metrics({"followers": 250, "posts": 9, "interactions": 3_000, "exposures": 40_000})
    assert changes(swung, previous).passed
    jumped = changes(metrics({"followers": 30_000, "posts": 9}), previous)
    assert [r["measure"] for r in jumped.sample] == ["followers"]


def test_a_dormant_month_is_no_fall_of_posts_interactions_or_exposures():
    dormant = metrics({"posts": 0, "interactions": 0, "exposures": None})
    assert changes(dormant, metrics({"posts": 200, "interactions": 2_000_000})).passed


def test_the_typical_post_catches_counts_scaled_that_one_viral_post_does_not_move():
    usual = [1_000, 1_200, 900, 1_100, 1_000]
    previous = metrics({"platform": "instagram", "interactions": sum(usual), "posts": 5})
    previous_posts = posts("A", usual)
    viral = [1_000, 1_200, 900, 1_100, 150_000]
    one_viral = changes(
        metrics({"platform": "instagram", "interactions": sum(viral), "posts": 5}),
        previous,
        posts=posts("A", viral),
        previous_posts=previous_posts,
    )
    assert one_viral.passed, one_viral.sample
    scaled = [v * 50 for v in usual]
    fifty_times = changes(
        metrics({"platform": "instagram", "interactions": sum(scaled), "posts": 5}),
        previous,
        posts=posts("A", scaled),
        previous_posts=previous_posts,
    )
    assert [(r["scope"], r["measure"], r["previous"], r["current"]) for r in fifty_times.sample] == [
        ("typical_post", "interactions", 1_000, 50_000)
    ], "the total (5,200 to 260,000 against a floor of 50,000) is within its factor; the median is not"
    large = [v * 10 for v in usual]  # a typical post of 10,000: far enough above the floor to fall
    shrunk = [v // 100 for v in large]
    hundredth = changes(
        metrics({"platform": "instagram", "interactions": sum(shrunk), "posts": 5}),
        metrics({"platform": "instagram", "interactions": sum(large), "posts": 5}),
        posts=posts("A", shrunk),
        previous_posts=posts("A", large),
    )
    assert [(r["scope"], r["direction"], r["ratio"]) for r in hundredth.sample] == [
        ("typical_post", "fall", 0.01)
    ]


def test_withheld_counts_are_not_judged():
    previous = metrics({"platform": "youtube", "followers": 800_000, "views": 2_000_000})
    hidden = metrics({"platform": "youtube", "followers": None, "views": None})
    assert changes(hidden, previous).passed
    assert quality.follower_change_within_bounds(hidden, previous, BOUNDS, NO_JUMPS).passed
    assert quality.account_values(hidden).filter(measure="followers").height == 0, "null is not zero"
    # posts whose likes are hidden do not make a typical post: their interactions are partial
    partial = posts("A", [None, None, None, 40_000])
    assert quality.typical_post_values(partial).filter(measure="interactions").height == 0
    assert quality.post_counts_below_maxima(posts("A", [None], views=[None]), BOUNDS, NO_JUMPS).passed


def test_without_a_previous_month_nothing_is_judged_and_the_detail_says_so():
    empty = metrics()
    finding = changes(metrics({"followers": 10**8}), empty)
    assert finding.passed and finding.detail == "no previous month to compare with"
    assert quality.follower_change_within_bounds(metrics({"followers": 1}), empty, BOUNDS, NO_JUMPS).passed
    new_account = changes(metrics({"account_handle": "B", "followers": 10**8}), metrics({}))
    assert new_account.passed and new_account.extra["accounts_without_previous_month"] == 1


def test_a_count_above_its_platform_maximum_fails_and_the_maximum_itself_passes():
    likes_max = bound("instagram", "likes", "maximum", scope="post")
    huge = posts("A", [1_000, 10**12, 2_000])
    finding = quality.post_counts_below_maxima(huge, BOUNDS, NO_JUMPS)
    assert not finding.passed
    assert {(r["post_id"], r["measure"], r["value"]) for r in finding.sample} == {
        ("A-1", "likes", 10**12), ("A-1", "interactions", 10**12)
    }  # fmt: skip
    assert all(r["maximum"] < 10**12 and r["source"] for r in finding.sample)
    at_maximum = posts("A", [int(likes_max)]).with_columns(interactions=pl.lit(1))
    assert quality.post_counts_below_maxima(at_maximum, BOUNDS, NO_JUMPS).passed
    followers_max = bound("x", "followers", "maximum")
    too_many = quality.account_counts_below_maxima(
        metrics({"platform": "x", "followers": int(followers_max) + 1}), BOUNDS, NO_JUMPS
    )
    assert [(r["measure"], r["maximum"]) for r in too_many.sample] == [("followers", followers_max)]


def test_a_known_jump_excuses_its_account_and_measure_only_and_shows_its_reason():
    previous = metrics({"followers": 100_000}, {"account_handle": "B", "followers": 100_000})
    current = metrics(
        {"followers": 1_000_000, "interactions": 200_000_000}, {"account_handle": "B", "followers": 1_000_000}
    )
    merged = jumps(("facebook", "A", "followers", "merged with the tourism board's page"))
    finding = changes(current, previous, merged)
    assert {(r["account_handle"], r["measure"]) for r in finding.sample} == {
        ("A", "interactions"),
        ("B", "followers"),
    }
    assert [(r["account_handle"], r["reason"]) for r in finding.extra["flagged_jumps"]] == [
        ("A", "merged with the tourism board's page")
    ]
    every = jumps(("facebook", "A", "all", "campaign"), ("facebook", "B", "followers", "bought followers"))
    assert changes(current, previous, every).passed
    fell = quality.follower_change_within_bounds(
        metrics({"followers": 1_000}), previous, BOUNDS, jumps(("facebook", "A", "followers", "purged bots"))
    )
    assert fell.passed and fell.extra["flagged_resets"][0]["reason"] == "purged bots"


def test_a_known_jump_of_interactions_excuses_the_likes_of_its_posts():
    huge = posts("A", [10**12])
    flagged = quality.post_counts_below_maxima(
        huge, BOUNDS, jumps(("instagram", "A", "interactions", "verified"))
    )
    assert flagged.passed and {r["measure"] for r in flagged.extra["flagged_jumps"]} == {
        "likes",
        "interactions",
    }
    views = jumps(("instagram", "A", "views", "not interactions"))
    assert not quality.post_counts_below_maxima(huge, BOUNDS, views).passed


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "known_jumps.csv"
    path.write_text(text, encoding="utf-8")
    return path


HEADER = "platform,account_handle,month,measure,reason\n"
GOOD = 'facebook,A,2024-09,followers,"page merged, confirmed by the city"\n'


def test_known_jumps_are_read_for_their_month(tmp_path):
    path = write(tmp_path, HEADER + GOOD + "x,B,2024-08,all,renamed\n")
    assert load_known_jumps(SEPTEMBER, path).to_dicts() == [
        {"platform": "facebook", "account_handle": "A", "measure": "followers",
         "reason": "page merged, confirmed by the city"}
    ]  # fmt: skip
    assert load_known_jumps(Month(2024, 8), path)["measure"].to_list() == ["all"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADER + GOOD + "facebook,A,2024-10,followers,\n", "line 3: a known jump needs a reason"),
        (HEADER + "tiktok,A,2024-09,followers,x\n", "line 2: unknown platform 'tiktok'"),
        (HEADER + "facebook,A,September,followers,x\n", "line 2: expected a month as YYYY-MM"),
        (HEADER + "facebook,A,2024-09,likes,x\n", "line 2: unknown measure 'likes'"),
        (HEADER + GOOD + GOOD, "line 3: repeats line 2"),
        (HEADER + "facebook,A,2024-09,followers\n", "line 2: 4 fields, expected 5"),
        ("platform,account_handle,month,reason\n" + GOOD, "line 1: columns must be"),
    ],
    ids=["no reason", "platform", "month", "measure", "repeated", "fields", "header"],
)
def test_a_malformed_known_jumps_file_is_refused_naming_its_line(tmp_path, text, message):
    with pytest.raises(PlausibilityFileError, match=message):
        load_known_jumps(SEPTEMBER, write(tmp_path, text))


def test_a_malformed_bounds_file_is_refused_naming_its_line_or_what_is_missing(tmp_path):
    shipped = load_bounds().write_csv()
    path = tmp_path / "plausibility.csv"
    lines = shipped.splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(PlausibilityFileError, match="no bounds for youtube/post/interactions"):
        load_bounds(path)
    broken = lines[:]
    broken[1] = broken[1].replace(",3.0,", ",one,", 1)
    path.write_text("\n".join(broken) + "\n", encoding="utf-8")
    with pytest.raises(PlausibilityFileError, match="line 2: rise_factor is not a number: 'one'"):
        load_bounds(path)
    broken = lines[:]
    broken[1] = broken[1].replace(",3.0,", ",0.8,", 1)
    path.write_text("\n".join(broken) + "\n", encoding="utf-8")
    with pytest.raises(PlausibilityFileError, match="line 2: rise_factor must be a number above 1"):
        load_bounds(path)
