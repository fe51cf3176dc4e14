"""The one home of storage: the `Warehouse`, which owns the DuckDB schemas, append-only raw pulls,
atomic month replacement, publication versions and reads.

Every monthly table carries `month` (DATE, first day) and `run_id`. Writes of a month are
delete-then-insert inside one transaction, so a reader sees the old month or the new one,
never a mix; raw documents are only ever appended, and each raw write and each publication is also
kept in the archive beside the file (`archive.py`) before it commits, so the file can be recreated
(`cityindex rebuild`). The writes are here; opening the file is `connection.py`, the tables'
declaration `tables.py`, the reads `raw_reads.py` and `table_reads.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from cityindex_pipeline.core.fingerprint import tables_sha256
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse import durable
from cityindex_pipeline.warehouse.raw_reads import RawReads
from cityindex_pipeline.warehouse.table_reads import TableReads, version_frames
from cityindex_pipeline.warehouse.tables import check_tables, create_tables, polars_schema

LIST_COLUMNS = {
    name: dtype for name, dtype in polars_schema("publish.publications").items() if isinstance(dtype, pl.List)
}
"""The list columns of a publication's record: polars cannot tell their type from an empty list."""


class Warehouse(RawReads, TableReads):
    """DuckDB file with the cityindex schemas; one connection per operation, writes in transactions."""

    def ensure_schema(self) -> None:
        """Create what is missing; add nullable columns a newer version introduced to older tables
        (`tables.create_tables`)."""
        with self.transaction() as con:
            create_tables(con, self.path)

    # -- writes ---------------------------------------------------------------------------------

    def replace_month(
        self,
        month: Month,
        run_id: str,
        frames: dict[str, pl.DataFrame],
        *,
        platform: str | None = None,
    ) -> str:
        """Replace `month` (of one `platform` only, if given) in each table, all in one transaction.
        Returns the fingerprint of what was written (`fingerprint.tables_sha256`)."""
        check_tables(frames)
        immutable = sorted(table for table in frames if table.startswith("publish."))
        if immutable:
            raise ValueError(f"{immutable}: publications are never replaced; publish a new version")
        scope, params = "month = ?", [month.first_day]
        if platform is not None:
            scope, params = "month = ? AND platform = ?", [month.first_day, platform]
        with self.transaction() as con:
            for table, frame in frames.items():
                con.execute(f"DELETE FROM {table} WHERE {scope}", params)
                _insert(con, table, _stamp(frame, month, run_id))
        return tables_sha256(frames)

    def start_pull(self, pull: dict[str, object]) -> None:
        """Record a pull as in progress before its first document is stored."""
        with self.transaction() as con:
            _insert(con, "raw.pulls", pl.DataFrame([{**pull, "status": "in_progress"}]))
            if self.archive is not None:
                self.archive.start_pull(_pull_row(con, str(pull["pull_id"]), "*"))

    def store_accounts(self, batch: list[tuple[dict[str, object], pl.DataFrame, pl.DataFrame]]) -> None:
        """Append accounts' documents and problems with the record that each account is stored, in one
        transaction: a pull interrupted later resumes after these accounts. The archive has them before
        the commit."""
        if not batch:
            return
        documents = pl.concat([documents for _, documents, _ in batch])
        problems = pl.concat([problems for _, _, problems in batch])
        accounts = pl.DataFrame([summary for summary, _, _ in batch])
        with self.transaction() as con:
            _insert(con, "raw.documents", documents)
            _insert(con, "raw.source_problems", problems)
            _insert(con, "raw.pull_accounts", accounts)
            if self.archive is not None:
                self.archive.store_batch(accounts, documents, problems)

    def archive_earlier_pulls(self) -> list[str]:
        """Archive the pulls this warehouse holds and the archive lacks (stored before the archive
        existed), each as it stands: its accounts in one batch, its completion, and its start record
        last, which marks a pull as archived. Returns their ids."""
        if self.archive is None:
            return []
        archived = []
        with self.connect() as con:
            for pull_id, month, platform in con.sql(
                "SELECT pull_id, month, platform FROM raw.pulls"
            ).fetchall():
                if (self.archive.pull_folder(month, platform, pull_id) / "started.parquet").exists():
                    continue
                of_pull = {"pull_id": pull_id}
                rows = {
                    table: con.sql(f"SELECT * FROM {table} WHERE pull_id = $pull_id", params=of_pull).pl()
                    for table in ("raw.pulls", "raw.pull_accounts", "raw.documents", "raw.source_problems")
                }
                self.archive.store_batch(
                    rows["raw.pull_accounts"], rows["raw.documents"], rows["raw.source_problems"]
                )
                pull = rows["raw.pulls"]
                if pull["status"][0] == "complete":
                    self.archive.complete_pull(
                        pull.select(
                            "pull_id", "month", "platform", "status", "completed_at", "documents", "problems"
                        )
                    )
                self.archive.start_pull(
                    pull.with_columns(
                        pl.lit("in_progress").alias("status"),
                        *(
                            pl.lit(None).cast(pull[c].dtype).alias(c)
                            for c in ("completed_at", "documents", "problems")
                        ),
                    )
                )
                archived.append(pull_id)
        return archived

    def complete_pull(self, pull_id: str, documents: int, problems: int) -> None:
        with self.transaction() as con:
            con.execute(
                "UPDATE raw.pulls SET status = 'complete', completed_at = ?, documents = ?, problems = ? "
                "WHERE pull_id = ?",
                [utc_now(), documents, problems, pull_id],
            )
            if self.archive is not None:
                self.archive.complete_pull(
                    _pull_row(
                        con, pull_id, "pull_id, month, platform, status, completed_at, documents, problems"
                    )
                )

    def publish(
        self,
        publication: dict[str, object],
        rows: pl.DataFrame,
        before_commit: Callable[[], None] | None = None,
        qualitative: pl.DataFrame | None = None,
        previous_inputs: pl.DataFrame | None = None,
    ) -> Path | None:
        """Add a new publication version; existing versions are never touched (the primary key refuses
        a version that exists). Before the commit, the archive gets a staged copy of the version (every
        publish.* table's rows of it, and the month's inputs), and `before_commit` runs; if either
        raises, nothing is published. Returns the staged copy, to be renamed into place once committed
        (`publication.py`), or None without an archive."""
        month, version = publication["month"], int(publication["version"])  # type: ignore[call-overload]
        staged = None
        try:
            with self.transaction() as con:
                lists = {k: t for k, t in LIST_COLUMNS.items() if k in publication}
                _insert(con, "publish.publications", pl.DataFrame([publication], schema_overrides=lists))
                _insert(con, "publish.index", rows)
                if qualitative is not None:
                    _insert(con, "publish.qualitative_inputs", qualitative)
                if previous_inputs is not None:
                    _insert(con, "publish.previous_inputs", previous_inputs)
                if self.archive is not None:
                    staged = self.archive.stage_publication(
                        Month.of(month),
                        version,
                        version_frames(con, month, version),  # type: ignore[arg-type]
                    )
                if before_commit is not None:
                    before_commit()
        except BaseException:
            if staged is not None:
                durable.discard(staged)  # never committed: its copy goes too
            raise
        return staged

    def append(self, table: str, frame: pl.DataFrame) -> None:
        """Append rows exactly as given (their own month and run id): copies between warehouses."""
        check_tables([table])
        with self.transaction() as con:
            _insert(con, table, frame)


def _pull_row(con: duckdb.DuckDBPyConnection, pull_id: str, columns: str) -> pl.DataFrame:
    return con.sql(
        f"SELECT {columns} FROM raw.pulls WHERE pull_id = $pull_id", params={"pull_id": pull_id}
    ).pl()


def _stamp(frame: pl.DataFrame, month: Month, run_id: str) -> pl.DataFrame:
    """Every row of a monthly table carries its month and the run that wrote it."""
    return frame.with_columns(pl.lit(month.first_day).alias("month"), pl.lit(run_id).alias("run_id"))


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Append a frame by column name: the one insert of every write (the fault tests kill a run in it)."""
    if frame.height == 0:
        return
    con.register("_incoming", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
    finally:
        con.unregister("_incoming")


def utc_now() -> datetime:
    return datetime.now(UTC)
