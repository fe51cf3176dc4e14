"""Reads of the monthly tables and of the publication versions: a month of a table, a version as the
archive keeps it, and whole-file reads (row counts, a checksum pass over every block)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import duckdb
import polars as pl

from cityindex_pipeline.core.months import Month, previous_month_read
from cityindex_pipeline.warehouse.connection import Connection
from cityindex_pipeline.warehouse.tables import MONTH_INPUTS, TABLES, VERSIONED_TABLES, check_tables

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


class TableReads(Connection):
    """The `Warehouse` methods that read the clean.*, idx.* and publish.* tables."""

    def read_month(
        self,
        table: str,
        month: Month,
        columns: Sequence[str] = ("*",),
        where: Mapping[str, object] | None = None,
    ) -> pl.DataFrame:
        """A month of one table, optionally only the rows whose columns equal `where`'s values (one
        city's rows without reading every city's); `table` must be one of TABLES and `columns` and
        `where`'s keys plain identifiers (or `*`), since names cannot be passed as SQL parameters."""
        check_tables([table])
        where = dict(where or {})
        names = [*(column for column in columns if column != "*"), *where]
        bad = [name for name in names if not _IDENTIFIER.fullmatch(name)]
        if bad:
            raise ValueError(f"not column names: {bad}")
        conditions = "".join(f" AND {name} = $where_{name}" for name in where)
        return self.query(
            f"SELECT {', '.join(columns)} FROM {table} WHERE month = $month{conditions}",
            {"month": month.first_day, **{f"where_{name}": value for name, value in where.items()}},
        )

    def read_month_before(
        self, table: str, month: Month, first_month: Month, columns: Sequence[str] = ("*",)
    ) -> pl.DataFrame:
        """The previous month's rows of a table as `month` reads them (`months.previous_month_read`):
        none, with the table's columns, in the first month of coverage and before it."""
        previous = previous_month_read(month, first_month)
        if previous is None:
            return self.read_month(table, month, columns).clear()
        return self.read_month(table, previous, columns)

    def month_row_counts(self, tables: Sequence[str], month: Month) -> dict[str, int]:
        """How many rows each of these tables holds for the month."""
        check_tables(tables)
        return {
            table: int(
                self.query(
                    f"SELECT count(*) AS n FROM {table} WHERE month = $month", {"month": month.first_day}
                )["n"][0]
            )
            for table in tables
        }

    def registry_accounts(self, month: Month) -> pl.DataFrame:
        """The month's registry snapshot of accounts (every platform, active or not), by platform and
        account."""
        return self.query(
            "SELECT * FROM clean.registry_accounts WHERE month = $month ORDER BY platform, account_handle",
            {"month": month.first_day},
        )

    def read_version(self, table: str, month: Month, version: int) -> pl.DataFrame:
        """The rows of one publication version in a `publish.*` table (`version` column)."""
        check_tables([table])
        if not table.startswith("publish."):
            raise ValueError(f"{table} holds no publication versions")
        return self.query(
            f"SELECT * FROM {table} WHERE month = $month AND version = $version",
            {"month": month.first_day, "version": version},
        )

    def publications(self, month: Month) -> pl.DataFrame:
        return self.query(
            "SELECT * FROM publish.publications WHERE month = $month ORDER BY version",
            {"month": month.first_day},
        )

    def read_every_table(self) -> None:
        """Read every row of every table, so that DuckDB checks each block against its checksum: damage
        no query has met yet raises WarehouseDamagedError. Reads the whole file (for `rebuild`)."""
        with self.connect() as con:
            for table in TABLES:
                con.execute(f"SELECT max(hash(t)) FROM {table} t").fetchall()

    def publication_frames(self, month: Month, version: int) -> dict[str, pl.DataFrame]:
        """What the archive keeps of a committed version (`version_frames`)."""
        with self.connect() as con:
            return version_frames(con, month.first_day, version)

    def table_counts(self) -> dict[str, int]:
        """Rows per table, for the note a run prints and for tests."""
        with self.connect() as con:
            return {table: con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0] for table in TABLES}


def version_frames(con: duckdb.DuckDBPyConnection, month: object, version: int) -> dict[str, pl.DataFrame]:
    """Every versioned publish.* table's rows of the version, and the month's inputs (registry and
    platform reference) as they stood: a version as the archive keeps it."""
    frames = {
        table: con.sql(
            f"SELECT * FROM {table} WHERE month = $month AND version = $version",
            params={"month": month, "version": version},
        ).pl()
        for table in VERSIONED_TABLES
    }
    for table in MONTH_INPUTS:
        frames[table] = con.sql(f"SELECT * FROM {table} WHERE month = $month", params={"month": month}).pl()
    return frames
