"""Every table's columns, declared once: the DDL the warehouse creates and the polars schema of the
frames written to it are both built from this list, so a column is renamed or retyped in one place.

The tables and their columns are a contract for tools outside (see docs/tables.md). Columns are
NOT NULL unless declared `null=True`; a newer version may only add nullable columns to a table that
exists, or let a NOT NULL column hold nulls (`create_tables`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl


@dataclass(frozen=True, eq=False)
class Column:
    """One column: its name, its DuckDB and polars types, and its constraint."""

    name: str
    type: ColumnType
    null: bool = False
    key: bool = False
    """PRIMARY KEY as a column constraint (a table-level key is the table's `primary_key`)."""

    @property
    def definition(self) -> str:
        """As the DDL declares it: `name TYPE NOT NULL`, `name TYPE` or `name TYPE PRIMARY KEY`."""
        constraint = " PRIMARY KEY" if self.key else "" if self.null else " NOT NULL"
        return f"{self.name} {self.type.sql}{constraint}"


@dataclass(frozen=True, eq=False)
class ColumnType:
    """A DuckDB type and the polars type of its values in a frame; called with a name, a column."""

    sql: str
    polars: pl.DataType

    def __call__(self, name: str, *, null: bool = False, key: bool = False) -> Column:
        return Column(name, self, null=null, key=key)


VARCHAR = ColumnType("VARCHAR", pl.String())
VARCHAR_LIST = ColumnType("VARCHAR[]", pl.List(pl.String()))
BLOB = ColumnType("BLOB", pl.Binary())
BOOLEAN = ColumnType("BOOLEAN", pl.Boolean())
INTEGER = ColumnType("INTEGER", pl.Int32())
BIGINT = ColumnType("BIGINT", pl.Int64())
DOUBLE = ColumnType("DOUBLE", pl.Float64())
DATE = ColumnType("DATE", pl.Date())
TIMESTAMP = ColumnType("TIMESTAMP", pl.Datetime("us"))
TIMESTAMPTZ = ColumnType("TIMESTAMPTZ", pl.Datetime("us", "UTC"))


class Table:
    """A table's columns in order, and its primary key when it is declared over several columns."""

    def __init__(self, *columns: Column, primary_key: tuple[str, ...] = ()) -> None:
        self.columns = columns
        self.primary_key = primary_key

    @property
    def ddl(self) -> str:
        """The column list of `CREATE TABLE name (...)`."""
        parts = [column.definition for column in self.columns]
        if self.primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        return ", ".join(parts)


SCHEMAS = ("raw", "clean", "idx", "publish")

# fmt: off
DECLARED: dict[str, Table] = {
    "raw.pulls": Table(
        VARCHAR("pull_id", key=True), DATE("month"), VARCHAR("platform"), VARCHAR("source"),
        VARCHAR("run_id"), TIMESTAMPTZ("started_at"), TIMESTAMPTZ("completed_at", null=True),
        VARCHAR("status"), INTEGER("accounts"), INTEGER("documents", null=True),
        INTEGER("problems", null=True),
    ),
    "raw.pull_accounts": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("pull_id"), VARCHAR("platform"), VARCHAR("account_handle"),
        INTEGER("documents"), INTEGER("problems"), TIMESTAMPTZ("stored_at"),
    ),
    "raw.source_problems": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("pull_id"), VARCHAR("platform"),
        VARCHAR("account_handle", null=True), VARCHAR("location"), VARCHAR("reason"), VARCHAR("sha256"),
        BLOB("content"),
    ),
    "raw.documents": Table(
        DATE("month"), VARCHAR("platform"), VARCHAR("account_handle"), VARCHAR("endpoint"), INTEGER("page"),
        VARCHAR("body"), VARCHAR("sha256"), VARCHAR("pull_id"), TIMESTAMPTZ("fetched_at"),
        VARCHAR("request_url"), VARCHAR("source"), VARCHAR("run_id"), VARCHAR("unusable_reason", null=True),
        VARCHAR("reading_rules", null=True), VARCHAR("judged_sha256", null=True),
    ),
    "clean.registry_cities": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("registry_version"), VARCHAR("city_id"), VARCHAR("name_en"),
        VARCHAR("name_zh"), VARCHAR("province_en"), VARCHAR("province_zh"), VARCHAR("tier"),
        DOUBLE("longitude"), DOUBLE("latitude"),
    ),
    "clean.registry_accounts": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("registry_version"), VARCHAR("city_id"),
        VARCHAR("platform"), VARCHAR("account_handle"), VARCHAR("platform_account_id"),
        VARCHAR("display_name"), DATE("started_on"), VARCHAR("provenance"), BOOLEAN("active"),
    ),
    "clean.posts": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("platform"), VARCHAR("city_id"), VARCHAR("account_handle"),
        VARCHAR("platform_account_id"), VARCHAR("post_id"), TIMESTAMPTZ("published_at_utc"),
        TIMESTAMP("published_at_beijing"), VARCHAR("content_type"), VARCHAR("text_excerpt", null=True),
        VARCHAR("permalink", null=True), VARCHAR_LIST("hashtags", null=True), BIGINT("likes", null=True),
        BIGINT("comments", null=True), BIGINT("shares", null=True), BIGINT("quotes", null=True),
        BIGINT("saves", null=True), BIGINT("views", null=True), BIGINT("exposures", null=True),
        BIGINT("reach", null=True), BIGINT("duration_seconds", null=True), BIGINT("interactions"),
        BOOLEAN("interactions_complete"), VARCHAR("source_sha256"), VARCHAR("insights_sha256", null=True),
        VARCHAR("pull_id"), TIMESTAMPTZ("fetched_at"),
    ),
    "clean.account_metrics": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("platform"), VARCHAR("city_id"), VARCHAR("account_handle"),
        VARCHAR("platform_account_id"), BIGINT("followers", null=True),
        BIGINT("followers_previous", null=True), BIGINT("follower_growth", null=True), BIGINT("posts"),
        BIGINT("active_days"), BIGINT("video_posts"), BIGINT("interactions"),
        DOUBLE("interactions_per_post", null=True), BIGINT("views", null=True),
        DOUBLE("views_per_video", null=True), BIGINT("exposures", null=True),
        VARCHAR("profile_sha256", null=True), VARCHAR("pull_id"),
    ),
    "clean.quarantine": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("platform"), VARCHAR("account_handle"), VARCHAR("endpoint"),
        VARCHAR("location"), VARCHAR("source_sha256"), VARCHAR("record_id", null=True), VARCHAR("reason"),
        VARCHAR("record"),
    ),
    "idx.platform_reference": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("platform"), DOUBLE("monthly_active_users_millions"),
        DOUBLE("daily_minutes_per_user"), DOUBLE("relevance"), VARCHAR("reference_note"),
        DOUBLE("monthly_active_users_month", null=True), VARCHAR("users_basis", null=True),
    ),
    "idx.platform_weights": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("platform"), DOUBLE("user_scale_share"),
        DOUBLE("activity_share"), DOUBLE("relevance_share"), DOUBLE("weight"), VARCHAR("methodology_version"),
        DOUBLE("user_scale_millions", null=True), VARCHAR("users_basis", null=True), BIGINT("accounts", null=True),
        DOUBLE("mean_active_days", null=True), BIGINT("interactions", null=True), BIGINT("views", null=True),
    ),
    "idx.platform_indicators": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("platform"), VARCHAR("city_id"), VARCHAR("dimension"),
        VARCHAR("indicator"), DOUBLE("indicator_weight"), DOUBLE("raw_value", null=True),
        VARCHAR("transform"), DOUBLE("treated_value", null=True), DOUBLE("platform_min", null=True),
        DOUBLE("platform_max", null=True), DOUBLE("normalised", null=True), INTEGER("accounts"),
        VARCHAR("methodology_version"), DOUBLE("skewness", null=True), DOUBLE("kurtosis", null=True),
        INTEGER("winsorised_points", null=True), DOUBLE("treated_skewness", null=True),
        DOUBLE("treated_kurtosis", null=True), BOOLEAN("winsorised", null=True),
    ),
    "idx.platform_index": Table(
        # a dimension score is null when the city has no value of its indicators (methodology 0.5.0 on)
        DATE("month"), VARCHAR("run_id"), VARCHAR("platform"), VARCHAR("city_id"),
        DOUBLE("generate_score", null=True), DOUBLE("interactive_score", null=True),
        DOUBLE("utilize_score", null=True), DOUBLE("score"), INTEGER("rank"),
        BOOLEAN("in_top_ten"), INTEGER("previous_rank", null=True), INTEGER("rank_change", null=True),
        VARCHAR("methodology_version"), DOUBLE("previous_score", null=True),
        DOUBLE("score_change", null=True),
    ),
    "idx.qualitative_scores": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("city_id"), VARCHAR("rater"), VARCHAR("criterion"),
        DOUBLE("score"), VARCHAR("source"), DATE("carried_from", null=True),
    ),
    "idx.comprehensive_index": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("city_id"), DOUBLE("quantitative_score"),
        DOUBLE("qualitative_score"), DOUBLE("quantitative_share"), DOUBLE("qualitative_share"),
        DOUBLE("score"), INTEGER("rank"), INTEGER("platforms_present"), DOUBLE("previous_score", null=True),
        INTEGER("previous_rank", null=True), DOUBLE("score_change", null=True),
        INTEGER("rank_change", null=True), VARCHAR("methodology_version"), BOOLEAN("in_top_ten", null=True),
    ),
    "idx.index_uncertainty": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("city_id"), INTEGER("nominal_rank"), DOUBLE("median_rank"),
        INTEGER("rank_p05"), INTEGER("rank_p95"), BOOLEAN("robust"), INTEGER("draws"), BIGINT("seed"),
        VARCHAR("methodology_version"),
    ),
    "idx.uncertainty_sensitivity": Table(
        DATE("month"), VARCHAR("run_id"), VARCHAR("choice"), DOUBLE("mean_rank_variance_alone", null=True),
        DOUBLE("share_of_total_variance", null=True), DOUBLE("mean_abs_rank_shift", null=True),
        VARCHAR("methodology_version"),
        # Sobol indices (methodology 0.5.0 on; null in the legacy one-at-a-time rows above)
        DOUBLE("first_order", null=True), DOUBLE("first_order_low", null=True),
        DOUBLE("first_order_high", null=True), DOUBLE("total_order", null=True),
        DOUBLE("total_order_low", null=True), DOUBLE("total_order_high", null=True),
        DOUBLE("interaction_share", null=True), DOUBLE("mean_rank_variance", null=True),
        INTEGER("model_runs", null=True), INTEGER("base_samples", null=True), INTEGER("bootstrap", null=True),
        DOUBLE("confidence", null=True),
    ),
    "publish.publications": Table(
        DATE("month"), INTEGER("version"), VARCHAR("run_id"), TIMESTAMPTZ("published_at"),
        VARCHAR("content_sha256"), VARCHAR("methodology_version"), VARCHAR("registry_version"),
        VARCHAR_LIST("pull_ids"), INTEGER("cities"), VARCHAR("reason", null=True),
        VARCHAR("code_version", null=True), VARCHAR("inputs_sha256", null=True),
        INTEGER("raw_documents", null=True), VARCHAR("qualitative_sha256", null=True),
        VARCHAR("checks", null=True), VARCHAR("warnings", null=True), VARCHAR("override_reason", null=True),
        VARCHAR_LIST("overridden_checks", null=True), VARCHAR("export_dir", null=True),
        VARCHAR("manifest_sha256", null=True), INTEGER("previous_version", null=True),
        VARCHAR("previous_inputs_sha256", null=True),
        primary_key=("month", "version"),
    ),
    "publish.qualitative_inputs": Table(
        DATE("month"), INTEGER("version"), VARCHAR("run_id"), VARCHAR("city_id"), VARCHAR("rater"),
        VARCHAR("criterion"), DOUBLE("score"), VARCHAR("source"), DATE("carried_from", null=True),
    ),
    "publish.previous_inputs": Table(
        DATE("month"), INTEGER("version"), VARCHAR("run_id"), DATE("previous_month"), VARCHAR("source_table"),
        INTEGER("rows"), VARCHAR("data_sha256"), BLOB("content"),
    ),
    "publish.index": Table(
        DATE("month"), INTEGER("version"), VARCHAR("run_id"), VARCHAR("city_id"), VARCHAR("name_en"),
        VARCHAR("name_zh"), INTEGER("rank"), DOUBLE("score"), DOUBLE("quantitative_score"),
        DOUBLE("qualitative_score"), DOUBLE("facebook_score", null=True), DOUBLE("x_score", null=True),
        DOUBLE("instagram_score", null=True), DOUBLE("youtube_score", null=True),
        INTEGER("previous_rank", null=True), INTEGER("rank_change", null=True),
        DOUBLE("score_change", null=True), DOUBLE("median_rank", null=True), INTEGER("rank_p05", null=True),
        INTEGER("rank_p95", null=True), BOOLEAN("rank_robust", null=True),
    ),
}
# fmt: on
"""Every table of the warehouse: the schemas outside tools rely on (see docs/tables.md)."""

TABLES: dict[str, str] = {table: declared.ddl for table, declared in DECLARED.items()}
"""DDL of every table, built from DECLARED."""

STAMPED = ("month", "run_id")
"""The columns `Warehouse.replace_month` stamps on every row: a month's frames are built without them."""

VERSIONED_TABLES = tuple(
    table
    for table, declared in DECLARED.items()
    if table.startswith("publish.") and any(column.name == "version" for column in declared.columns)
)
"""The publish.* tables written with a version, in the version's transaction: what a version is."""
MONTH_INPUTS = ("clean.registry_cities", "clean.registry_accounts", "idx.platform_reference")
"""The month's inputs besides the pulls and the panel, as the month's run snapshotted them: kept with
each version in the archive, and what `verify` recomputes from."""


class WarehouseSchemaError(RuntimeError):
    """The warehouse was written by an older version in a way this one cannot extend in place."""


def polars_schema(table: str, *, without: Sequence[str] = ()) -> dict[str, pl.DataType]:
    """The polars types of a table's columns, in the table's order, less the columns `without` (those
    the writer adds, such as STAMPED)."""
    return {
        column.name: column.type.polars for column in DECLARED[table].columns if column.name not in without
    }


def column_definitions(ddl: str) -> list[tuple[str, str]]:
    """(name, definition) of each column in a table's DDL, constraints left out."""
    parts, depth, current = [], 0, ""
    for char in ddl:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    definitions = [" ".join(part.split()) for part in parts if part.strip()]
    return [(d.split()[0], d) for d in definitions if not d.upper().startswith("PRIMARY KEY")]


def check_tables(tables: object) -> None:
    """Refuse names that are not tables of the warehouse (table names cannot be SQL parameters)."""
    unknown = sorted(set(tables) - set(TABLES))  # type: ignore[call-overload]
    if unknown:
        raise KeyError(f"unknown table(s) {unknown}; known: {sorted(TABLES)}")


def create_tables(con: duckdb.DuckDBPyConnection, path: object) -> None:
    """Create what is missing; add nullable columns a newer version introduced to older tables, and
    drop the NOT NULL of a column a newer version made nullable (old rows all have a value).
    A missing NOT NULL column cannot be filled in for old rows: that is an error naming it.
    A warehouse already as declared is only read (one query): every step of a run asks."""
    if _as_declared(existing_columns(con)):
        return
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table, ddl in TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
    columns = existing_columns(con)
    for table, declared in DECLARED.items():
        existing = columns.get(table, {})
        for column in declared.columns:
            if column.name in existing:
                if column.null and not existing[column.name]:
                    con.execute(f"ALTER TABLE {table} ALTER COLUMN {column.name} DROP NOT NULL")
                continue
            if "NOT NULL" in column.definition:
                raise WarehouseSchemaError(
                    f"{path}: table {table} lacks the required column {column.name!r} of this version; "
                    "rebuild the warehouse from its raw documents or start a new CITYINDEX_HOME"
                )
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column.definition}")


def existing_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, bool]]:
    """Each table's columns and whether each may hold nulls, in one query (one per table cost 30 ms
    each, 0.6 s per step)."""
    columns: dict[str, dict[str, bool]] = {}
    for table, column, nullable in con.sql(
        "SELECT table_schema || '.' || table_name, column_name, is_nullable = 'YES'"
        " FROM information_schema.columns"
    ).fetchall():
        columns.setdefault(table, {})[column] = nullable
    return columns


def _as_declared(columns: dict[str, dict[str, bool]]) -> bool:
    """Every declared table exists with every declared column, none stricter than declared."""
    for table, declared in DECLARED.items():
        existing = columns.get(table)
        if existing is None:
            return False
        for column in declared.columns:
            if column.name not in existing or (column.null and not existing[column.name]):
                return False
    return True
