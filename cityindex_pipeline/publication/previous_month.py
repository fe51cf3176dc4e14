"""What a month reads of the month before it, read once, checked, and pinned with its publication.

Month N reads four tables of month N-1: the accounts' followers (follower growth), the platform
indices and the comprehensive index (score and rank change) and the expert panel (a panel carried
forward). Each is read by its own asset of N, at its own time; a re-run of N-1 in between would
leave N built from two versions of N-1. Month N keeps what it read in its own rows
(`followers_previous`, `previous_score`, `previous_rank`, a carried panel), so whether N was built
from one version of N-1, and whether that version is still N-1's, can be decided from the data:
`built_from_previous_month` compares them with N-1's rows as they are now.

The publication of N re-applies that rule on one consistent read of both months, and keeps the
rows of N-1 it used with the version (`publish.previous_inputs`, one Parquet document per table),
their fingerprint and the published version of N-1 they are (`previous_version`, null when N-1's
current rows match none of its publications). `cityindex verify` recomputes N from those pinned
rows, so re-running N-1 later never breaks the verification of a publication of N.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from cityindex_pipeline.core.fingerprint import tables_sha256
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.publication.records import content_sha256, publication_rows
from cityindex_pipeline.quality.findings import SAMPLE_ROWS, Finding, jsonable
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.tables import polars_schema

PREVIOUS_MONTH_TABLES = (
    "clean.account_metrics",
    "idx.platform_index",
    "idx.comprehensive_index",
    "idx.qualitative_scores",
)
"""The tables of month N-1 that month N reads (follower growth, rank change, a carried panel)."""

PREVIOUS_MONTH_GATE = "comprehensive_index:built_from_previous_month"
"""The check of the rule, which the publication evaluates again on what it publishes."""


@dataclass(frozen=True)
class Reading:
    """How month N's rows carry what they read of N-1: the table of N that holds it, the keys, and
    each column of N with the column of N-1 it copies."""

    previous_table: str
    current_table: str
    keys: tuple[str, ...]
    copied: Mapping[str, str]
    only_where: str | None = None
    """A column of N that must be non-null for the row to have read N-1 (a carried panel row)."""


READINGS: tuple[Reading, ...] = (
    Reading(
        "clean.account_metrics",
        "clean.account_metrics",
        ("platform", "account_handle"),
        {"followers_previous": "followers"},
    ),
    Reading(
        "idx.platform_index",
        "idx.platform_index",
        ("platform", "city_id"),
        {"previous_score": "score", "previous_rank": "rank"},
    ),
    Reading(
        "idx.comprehensive_index",
        "idx.comprehensive_index",
        ("city_id",),
        {"previous_score": "score", "previous_rank": "rank"},
    ),
    Reading(
        "idx.qualitative_scores",
        "idx.qualitative_scores",
        ("city_id", "rater", "criterion"),
        {"score": "score"},
        only_where="carried_from",
    ),
)
"""Every place month N keeps a value of N-1: the rule reads them all, and nothing else."""

_MISMATCH_SCHEMA = {
    "table": pl.String,
    "key": pl.String,
    "column": pl.String,
    "read_then": pl.String,
    "now": pl.String,
}


def built_from_previous_month(
    month: Month, current: Mapping[str, pl.DataFrame], previous: Mapping[str, pl.DataFrame]
) -> Finding:
    """Month N's copies of N-1's values equal N-1's rows now (`current`: N's rows of the tables in
    READINGS; `previous`: N-1's). A difference means N-1 changed after N read it (a re-run of N-1
    while N ran, or since), or N was built before N-1 existed: N mixes versions of N-1, or is built
    on one that is no longer N-1's. Null on both sides is equal (no previous month, a city new this
    month); a value on one side only is not."""
    mismatches = [_mismatches(reading, current, previous) for reading in READINGS]
    found = pl.concat(mismatches) if mismatches else pl.DataFrame(schema=_MISMATCH_SCHEMA)
    tables = sorted(set(found["table"]))
    return Finding(
        passed=found.height == 0,
        failed_rows=found.height,
        sample=jsonable(found.head(SAMPLE_ROWS).to_dicts()),
        detail=f"{month}'s copies of {month.previous()}'s followers, scores, ranks and carried panel "
        f"compared with {month.previous()}'s rows now"
        + (f": differences in {', '.join(tables)}" if tables else ": all equal"),
        fix=""
        if found.height == 0
        else f"{month.previous()} changed after {month} read it: re-run {month} (every asset of the month, "
        f"after {month.previous()} has finished) so that it is built from one version of {month.previous()}",
        extra={"previous_month": str(month.previous()), "tables_differing": tables},
    )


def _mismatches(
    reading: Reading, current: Mapping[str, pl.DataFrame], previous: Mapping[str, pl.DataFrame]
) -> pl.DataFrame:
    rows = current[reading.current_table]
    if reading.only_where is not None:
        rows = rows.filter(pl.col(reading.only_where).is_not_null())
    if rows.height == 0:
        return pl.DataFrame(schema=_MISMATCH_SCHEMA)
    before = previous[reading.previous_table].select(
        *reading.keys, *(pl.col(column).alias(f"_now_{column}") for column in set(reading.copied.values()))
    )
    joined = rows.select(*reading.keys, *reading.copied).join(
        before, on=list(reading.keys), how="left", nulls_equal=True
    )
    key = pl.concat_str([pl.col(k).cast(pl.String).fill_null("") for k in reading.keys], separator="/")
    return pl.concat(
        [
            joined.filter(pl.col(mine).ne_missing(pl.col(f"_now_{theirs}"))).select(
                pl.lit(reading.current_table).alias("table"),
                key.alias("key"),
                pl.lit(mine).alias("column"),
                pl.col(mine).cast(pl.String).alias("read_then"),
                pl.col(f"_now_{theirs}").cast(pl.String).alias("now"),
            )
            for mine, theirs in reading.copied.items()
        ]
    )


# -- pinned with a publication ----------------------------------------------------------------------


def inputs_sha256(previous: Mapping[str, pl.DataFrame]) -> str:
    """Fingerprint of N-1's rows as N read them (`fingerprint.tables_sha256`: run ids left out)."""
    return tables_sha256({table: previous[table] for table in PREVIOUS_MONTH_TABLES})


def pinned_rows(previous_month: Month, previous: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Rows of `publish.previous_inputs` (without month, version and run id): each table of N-1 as
    one Parquet document, with its row count and fingerprint. Parquet keeps every type and every
    bit of each number, so the rows read back are the rows that were read."""
    rows = []
    for table in PREVIOUS_MONTH_TABLES:
        buffer = io.BytesIO()
        previous[table].write_parquet(buffer)
        rows.append(
            {
                "previous_month": previous_month.first_day,
                "source_table": table,
                "rows": previous[table].height,
                "data_sha256": tables_sha256({table: previous[table]}),
                "content": buffer.getvalue(),
            }
        )
    return pl.DataFrame(
        rows,
        schema=polars_schema("publish.previous_inputs", without=("month", "version", "run_id")),
    )


def unpinned(rows: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The tables of N-1 as a publication pinned them (rows of `publish.previous_inputs`)."""
    return {
        row["source_table"]: pl.read_parquet(io.BytesIO(row["content"])) for row in rows.iter_rows(named=True)
    }


@dataclass(frozen=True)
class PreviousMonth:
    """Month N-1 as month N reads it: its tables, which publication of N-1 they are, their fingerprint."""

    month: Month
    tables: dict[str, pl.DataFrame]
    published_version: int | None
    """The latest version of N-1 whose numbers these tables give; None if N-1 is unpublished or
    its tables have changed since its last publication."""
    sha256: str


def read_previous_month(store: Warehouse, month: Month, first_month: Month) -> PreviousMonth:
    """N-1's tables that N reads, in one snapshot, and the published version of N-1 they are; in the
    first month of coverage none (empty tables), whatever rows of N-1 the warehouse holds."""
    previous = month.previous()
    with store.snapshot():
        tables = {
            table: store.read_month_before(table, month, first_month) for table in PREVIOUS_MONTH_TABLES
        }
        publications = store.publications(previous)
        rows = publication_rows(
            tables["idx.comprehensive_index"],
            tables["idx.platform_index"],
            store.read_month("clean.registry_cities", previous),
            store.read_month("idx.index_uncertainty", previous),
        )
    versions = (
        publications.filter(pl.col("content_sha256") == content_sha256(rows))["version"].to_list()
        if rows.height
        else []
    )
    return PreviousMonth(previous, tables, max(versions) if versions else None, inputs_sha256(tables))


def read_month_tables(store: Warehouse, month: Month) -> dict[str, pl.DataFrame]:
    """Month N's own rows of the tables that carry what it read of N-1."""
    with store.snapshot():
        return {table: store.read_month(table, month) for table in PREVIOUS_MONTH_TABLES}


def pinned_with(store: Warehouse, month: Month, version: int) -> dict[str, pl.DataFrame] | None:
    """N-1's tables as publication `version` of `month` pinned them; None for a publication made
    before pinning (it recorded no previous inputs)."""
    rows = store.read_version("publish.previous_inputs", month, version)
    return unpinned(rows) if rows.height else None
