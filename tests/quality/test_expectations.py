"""The Great Expectations suites on small frames: each check passes on good rows and names bad ones.

Great Expectations takes a few seconds to import; it is imported once, by the first test here.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import polars as pl

from cityindex_pipeline.cleaning import COUNT_COLUMNS
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.quality import suites as ex

SEPTEMBER = Month(2024, 9)


def posts(n: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "platform": ["x"] * n,
            "city_id": ["a"] * n,
            "account_handle": ["A"] * n,
            "platform_account_id": ["1"] * n,
            "post_id": [f"p{i}" for i in range(n)],
            "published_at_utc": [datetime(2024, 9, 10, tzinfo=UTC)] * n,
            "content_type": ["photo"] * n,
            **{column: [1] * n for column in COUNT_COLUMNS},
            "comments": [None] * n,
            "interactions": [1] * n,
        },
        schema_overrides={"comments": pl.Int64},
    )


def with_value(frame: pl.DataFrame, column: str, row: int, value) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )


def test_clean_posts_pass_their_suite():
    findings = ex.validate(posts(), ex.posts_suite(SEPTEMBER), "clean_posts")
    assert set(findings) == {"posts_unique", "post_keys_not_null", "counts_not_negative", "published_in_month",
                             "content_type_known"}  # fmt: skip
    assert all(f.passed for f in findings.values())


def test_each_post_defect_fails_its_own_check_with_a_sample():
    cases = {
        "posts_unique": with_value(posts(), "post_id", 2, "p0"),
        "post_keys_not_null": with_value(posts(), "city_id", 1, None),
        "counts_not_negative": with_value(posts(), "likes", 1, -4),
        "published_in_month": with_value(posts(), "published_at_utc", 1, SEPTEMBER.end_utc),  # exclusive end
        "content_type_known": with_value(posts(), "content_type", 0, "reel"),
    }
    for check, frame in cases.items():
        findings = ex.validate(frame, ex.posts_suite(SEPTEMBER), "clean_posts")
        failed = {name for name, f in findings.items() if not f.passed}
        assert failed == {check}, (check, failed)
        assert findings[check].failed_rows >= 1 and findings[check].sample, check
    sample = ex.validate(cases["counts_not_negative"], ex.posts_suite(SEPTEMBER), "p")[
        "counts_not_negative"
    ].sample
    assert sample[0]["likes"] == -4 and sample[0]["post_id"] == "p1"


def test_a_post_published_in_the_first_beijing_minute_is_inside_the_month():
    inside = with_value(posts(), "published_at_utc", 0, datetime(2024, 8, 31, 16, 0, tzinfo=UTC))
    assert ex.validate(inside, ex.posts_suite(SEPTEMBER), "p")["published_in_month"].passed


def test_withheld_counts_stay_null_and_pass():
    frame = with_value(posts(), "likes", 0, None)
    assert ex.validate(frame, ex.posts_suite(SEPTEMBER), "p")["counts_not_negative"].passed


def test_a_missing_column_fails_the_check_that_needs_it():
    finding = ex.validate(posts().drop("shares"), ex.posts_suite(SEPTEMBER), "p")["counts_not_negative"]
    assert not finding.passed
    assert finding.extra["failed_expectations"][0]["arguments"]["column"] == "shares"


def test_weights_and_index_suites_report_table_level_failures():
    weights = pl.DataFrame(
        {"platform": ["facebook", "x", "instagram", "youtube"], "weight": [0.4, 0.3, 0.2, 0.1]}
    )
    assert ex.validate(weights, ex.weights_suite(), "w")["platform_weights_valid"].passed
    off = ex.validate(weights.with_columns(pl.col("weight") * 1.1), ex.weights_suite(), "w")[
        "platform_weights_valid"
    ]
    assert (
        not off.passed and off.extra["failed_expectations"][0]["expectation"] == "ExpectColumnSumToBeBetween"
    )
    index = pl.DataFrame(
        {"city_id": ["a", "b"], "score": [50.0, 40.0], "quantitative_score": [50.0, 40.0],
         "qualitative_score": [50.0, 40.0], "platforms_present": [4, 3], "rank": [1, 2]}
    )  # fmt: skip
    assert ex.validate(index, ex.index_suite(2), "i")["index_well_formed"].passed
    short = ex.validate(index, ex.index_suite(3), "i")["index_well_formed"]
    assert not short.passed and short.sample[0]["observed"] == 2


def test_account_metrics_suite_catches_duplicates_and_impossible_active_days():
    metrics = pl.DataFrame(
        {"platform": ["x", "x"], "account_handle": ["A", "B"], "followers": [10, None], "posts": [3, 0],
         "video_posts": [1, 0], "interactions": [5, 0], "views": [None, None], "exposures": [None, None],
         "active_days": [3, 0]}
    )  # fmt: skip
    assert ex.validate(metrics, ex.account_metrics_suite(SEPTEMBER), "m")["metrics_well_formed"].passed
    bad = with_value(with_value(metrics, "account_handle", 1, "A"), "active_days", 0, 31)
    finding = ex.validate(bad, ex.account_metrics_suite(SEPTEMBER), "m")["metrics_well_formed"]
    kinds = {f["expectation"] for f in finding.extra["failed_expectations"]}
    assert kinds == {"ExpectCompoundColumnsToBeUnique", "ExpectColumnValuesToBeBetween"}


def test_the_code_location_loads_without_importing_great_expectations():
    code = "import sys, cityindex_pipeline.definitions; print('great_expectations' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "False"
