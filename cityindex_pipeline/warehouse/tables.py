"""Every table's columns, declared once: the DDL the warehouse creates, its column comments and the
polars schema of the frames written to it are all built from this list, so a column is renamed,
retyped or described in one place (the columns themselves in `source_tables.py` and `index_tables.py`).

The tables and their columns are a contract for tools outside (see docs/tables.md). Columns are
NOT NULL unless declared `null=True`; a newer version may only add nullable columns to a table that
exists, or let a NOT NULL column hold nulls (`create_tables`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import duckdb
import polars as pl

from cityindex_pipeline.warehouse.columns import Column, Table
from cityindex_pipeline.warehouse.index_tables import INDEX_TABLES
from cityindex_pipeline.warehouse.source_tables import SOURCE_TABLES

SCHEMAS = ("raw", "clean", "idx", "publish")

DECLARED: dict[str, Table] = {**SOURCE_TABLES, **INDEX_TABLES}
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


def described_columns(table: str, names: Sequence[str]) -> list[Column]:
    """The declared columns `names` of a table, in that order: what an export of them holds."""
    by_name = {column.name: column for column in DECLARED[table].columns}
    return [by_name[name] for name in names]


class ExistingColumn(NamedTuple):
    """A column as the warehouse holds it."""

    nullable: bool
    comment: str | None


def create_tables(con: duckdb.DuckDBPyConnection, path: object) -> None:
    """Create what is missing; add nullable columns a newer version introduced to older tables, and
    drop the NOT NULL of a column a newer version made nullable (old rows all have a value).
    A missing NOT NULL column cannot be filled in for old rows: that is an error naming it.
    Every column's description is its comment, rewritten when it differs.
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
                if column.null and not existing[column.name].nullable:
                    con.execute(f"ALTER TABLE {table} ALTER COLUMN {column.name} DROP NOT NULL")
            elif "NOT NULL" in column.definition:
                raise WarehouseSchemaError(
                    f"{path}: table {table} lacks the required column {column.name!r} of this version; "
                    "rebuild the warehouse from its raw documents or start a new CITYINDEX_HOME"
                )
            else:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {column.definition}")
            held = existing.get(column.name)
            if held is None or held.comment != column.doc:
                con.execute(f"COMMENT ON COLUMN {table}.{column.name} IS {_sql_text(column.doc)}")


def existing_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, ExistingColumn]]:
    """Each table's columns, whether each may hold nulls and its comment, in one query (one per
    table cost 30 ms each, 0.6 s per step)."""
    columns: dict[str, dict[str, ExistingColumn]] = {}
    for table, column, nullable, comment in con.sql(
        "SELECT schema_name || '.' || table_name, column_name, is_nullable, comment"
        " FROM duckdb_columns() WHERE database_name = current_database()"
    ).fetchall():
        columns.setdefault(table, {})[column] = ExistingColumn(nullable, comment)
    return columns


def _as_declared(columns: dict[str, dict[str, ExistingColumn]]) -> bool:
    """Every declared table exists with every declared column, none stricter than declared, each
    described as declared."""
    for table, declared in DECLARED.items():
        existing = columns.get(table)
        if existing is None:
            return False
        for column in declared.columns:
            held = existing.get(column.name)
            if held is None or (column.null and not held.nullable) or held.comment != column.doc:
                return False
    return True


def _sql_text(text: str) -> str:
    """A SQL string literal (COMMENT ON takes no parameter)."""
    return "'" + text.replace("'", "''") + "'"
