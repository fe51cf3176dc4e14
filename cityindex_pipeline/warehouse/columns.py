"""What a column is (name, DuckDB and polars types, constraint, description), and the descriptions
of the columns many tables share, written once.

A column's description (`doc`) is the one text the Dagster UI's column schema, the warehouse's
column comments and an export's data dictionary all show: what the column holds, in which unit,
what null means and where it comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True, eq=False)
class Column:
    """One column: its name, its DuckDB and polars types, its constraint and what it holds."""

    name: str
    type: ColumnType
    doc: str
    """What the column holds, for an auditor: unit, what null means, where the value comes from."""
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

    def __call__(self, name: str, *, doc: str, null: bool = False, key: bool = False) -> Column:
        return Column(name, self, doc, null=null, key=key)


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


def undescribed(tables: Mapping[str, Table]) -> list[str]:
    """`table.column` of every column whose description says nothing beyond its type and constraint
    (empty, a type, NOT NULL, PRIMARY KEY, nullable, or a bare word or two)."""
    words_of_type = {"not", "null", "nullable", "primary", "key", "column", "value"}
    found = []
    for table, declared in tables.items():
        for column in declared.columns:
            words = column.doc.replace(",", " ").replace(";", " ").lower().split()
            meaningful = [w for w in words if w not in words_of_type and w != column.type.sql.lower()]
            if len(meaningful) < 3:
                found.append(f"{table}.{column.name}")
    return found


# The columns many tables share: one text each.
MONTH = "the calendar month the row belongs to, as its first day (months run in Beijing time, UTC+8)"
RUN_ID = "id of the Dagster run that wrote the row"
PLATFORM = "the platform: facebook, x, instagram or youtube"
CITY_ID = "the city's id in the registry (cities.csv), e.g. nanjing"
ACCOUNT_HANDLE = "the account's handle on the platform, as the registry (accounts.csv) lists it"
PLATFORM_ACCOUNT_ID = "the platform's own id of the account (page, user or channel id), from the registry"
PULL_ID = "the pull (raw.pulls) the row's documents were stored by"
SOURCE_SHA256 = "sha256 of the document the row was read from (raw.documents.sha256)"
REGISTRY_VERSION = "sha256 of the registry's files (cities.csv, accounts.csv) as used that month"
METHODOLOGY_VERSION = "version of the methodology that computed the row (method/versions/<version>.yaml)"
VERSION = "the month's publication version: 1, 2, ... (publish.publications)"
NAME_EN = "the city's name in English, from the registry"
NAME_ZH = "the city's name in Chinese, from the registry"
USERS_BASIS = (
    "which reported user figures the month's user scale is taken from and how (as of a date, "
    "interpolated between two, or held); null under methodology 0.4.0 and earlier"
)
RANK = (
    "competition rank, 1 the highest score; cities tied at full precision share the best place and "
    "the next is skipped (1, 2, 2, 4)"
)
PREVIOUS_RANK = (
    "rank in the previous month; null in the first month of coverage or when the city was not ranked then"
)
RANK_CHANGE = "previous rank − rank (positive: a rise); null when previous_rank is null"
PREVIOUS_SCORE = (
    "score in the previous month; null in the first month of coverage or when the city was not ranked then"
)
SCORE_CHANGE = "score − previous score, in index points; null when there is no previous score"
RATER = "the panel member who gave the score (simulated-rater-1 to -5 when simulated)"
CRITERION = "the criterion scored, one of the methodology's (content_quality, cultural_distinctiveness, ...)"
PANEL_SCORE = "the rater's score of the city on the criterion, 0-100"
PANEL_SOURCE = "panel: from the month's panel file (landing/qualitative/<YYYY-MM>.csv); simulated: invented"
CARRIED_FROM = (
    "when the score was carried forward (no panel file this month, missing_panel carry-forward): the "
    "month it was first given; null when it was given for this month"
)
