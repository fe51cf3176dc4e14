"""Whether a month was built from one version of its previous month, the one it holds now; and the
previous month's rows pinned with a publication read back exactly."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.publication.previous_month import (
    PREVIOUS_MONTH_TABLES,
    built_from_previous_month,
    inputs_sha256,
    pinned_rows,
    unpinned,
)

SEPTEMBER = Month(2024, 9)


def previous_month() -> dict[str, pl.DataFrame]:
    return {
        "clean.account_metrics": pl.DataFrame(
            {"platform": ["x", "x"], "account_handle": ["a", "b"], "followers": [100, None]}
        ),
        "idx.platform_index": pl.DataFrame(
            {"platform": ["x", "x"], "city_id": ["c1", "c2"], "score": [61.25, 40.5], "rank": [1, 2]},
            schema_overrides={"rank": pl.Int32},
        ),
        "idx.comprehensive_index": pl.DataFrame(
            {"city_id": ["c1", "c2"], "score": [55.0, 31.0], "rank": [1, 2]},
            schema_overrides={"rank": pl.Int32},
        ),
        "idx.qualitative_scores": pl.DataFrame(
            {"city_id": ["c1"], "rater": ["r"], "criterion": ["content_quality"], "score": [70.0]}
        ),
    }


def month_built_on(previous: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """September as the pipeline builds it on `previous`: each copy of August's values in its rows."""
    metrics, platform, overall = (previous[t] for t in PREVIOUS_MONTH_TABLES[:3])
    return {
        "clean.account_metrics": metrics.select(
            "platform", "account_handle", pl.col("followers").alias("followers_previous")
        ),
        "idx.platform_index": platform.select(
            "platform",
            "city_id",
            pl.col("score").alias("previous_score"),
            pl.col("rank").alias("previous_rank"),
        ),
        "idx.comprehensive_index": overall.select(
            "city_id", pl.col("score").alias("previous_score"), pl.col("rank").alias("previous_rank")
        ),
        "idx.qualitative_scores": previous["idx.qualitative_scores"].with_columns(
            carried_from=pl.lit(date(2024, 8, 1))
        ),
    }


def test_a_month_built_on_its_previous_month_as_it_is_passes():
    finding = built_from_previous_month(SEPTEMBER, month_built_on(previous_month()), previous_month())
    assert finding.passed and finding.failed_rows == 0, finding.sample


@pytest.mark.parametrize(
    ("table", "change", "column"),
    [
        ("clean.account_metrics", pl.col("followers") + 1, "followers_previous"),
        ("idx.platform_index", pl.col("score") + 1e-9, "previous_score"),
        ("idx.comprehensive_index", pl.col("rank").reverse(), "previous_rank"),
        ("idx.qualitative_scores", pl.col("score") - 5, "score"),
    ],
)
def test_a_previous_month_changed_after_it_was_read_is_named(table, change, column):
    changed = previous_month()
    name = {"followers_previous": "followers", "previous_score": "score", "previous_rank": "rank"}.get(
        column, column
    )
    changed[table] = changed[table].with_columns(change.alias(name))

    finding = built_from_previous_month(SEPTEMBER, month_built_on(previous_month()), changed)

    assert not finding.passed
    assert {row["table"] for row in finding.sample} == {table}
    assert {row["column"] for row in finding.sample} == {column}
    assert "re-run 2024-09" in finding.fix and "2024-08 changed after 2024-09 read it" in finding.fix


def test_a_month_built_before_its_previous_month_existed_is_not_taken_as_built_on_it():
    built_alone = month_built_on(previous_month())
    built_alone["clean.account_metrics"] = built_alone["clean.account_metrics"].with_columns(
        pl.lit(None, pl.Int64).alias("followers_previous")
    )  # September read no followers of August: August was materialised after it

    finding = built_from_previous_month(SEPTEMBER, built_alone, previous_month())

    assert not finding.passed
    (row,) = finding.sample
    assert (row["key"], row["read_then"], row["now"]) == ("x/a", None, "100")


def test_a_panel_scored_afresh_is_not_compared_with_the_previous_one():
    current = month_built_on(previous_month())
    current["idx.qualitative_scores"] = current["idx.qualitative_scores"].with_columns(
        score=pl.lit(12.0), carried_from=pl.lit(None, pl.Date)
    )
    assert built_from_previous_month(SEPTEMBER, current, previous_month()).passed


def test_pinned_rows_read_back_exactly_with_their_fingerprint():
    rows = pinned_rows(Month(2024, 8), previous_month())

    assert rows["source_table"].to_list() == list(PREVIOUS_MONTH_TABLES)
    back = unpinned(rows)
    for table, frame in previous_month().items():
        assert back[table].equals(frame) and back[table].schema == frame.schema
    assert inputs_sha256(back) == inputs_sha256(previous_month())
