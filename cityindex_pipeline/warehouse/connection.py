"""Opening the warehouse file: the bounded wait for DuckDB's single-writer lock, damage detection, and
the connection a session, a snapshot or a transaction shares.

A file that cannot be read, or is gone while the archive holds data, stops every command with a
message naming it and `cityindex rebuild`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import duckdb
import polars as pl

from cityindex_pipeline.warehouse.archive import Archive
from cityindex_pipeline.warehouse.tables import TABLES

ARCHIVE_FOLDER = "archive"
"""The archive lives beside the warehouse file: `$CITYINDEX_HOME/archive/`."""
_LOCK_MESSAGE = "Could not set lock"
_BLOCKS_CHECKED: dict[Path, tuple[int, int]] = {}
"""Inode and size of each warehouse file as this process last opened it: checked for truncation at the
first opening, and again only if it was replaced or shrank since (`Connection._check_blocks`)."""
_DAMAGE = (
    "not a valid DuckDB database file",
    "Could not read enough bytes",
    "Corrupt database file",
    "Failure while replaying WAL",
)
"""What DuckDB says of a truncated or corrupt file (seen with DuckDB 2.0)."""
LOGGER = logging.getLogger("cityindex.warehouse")


class WarehouseDamagedError(RuntimeError):
    """The warehouse file cannot be read (truncated, corrupt), or is gone while the archive holds what
    was stored in it; the message names the file and `cityindex rebuild`, `reason` says what is wrong."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class WarehouseLockedError(RuntimeError):
    """Another process holds DuckDB's single-writer lock for longer than we were willing to wait."""


def _lock_holder(message: str) -> str:
    """DuckDB names the process holding the lock: `... is held in /usr/bin/python3 (PID 1234)`."""
    match = re.search(r"held in (.+?) \(PID (\d+)\)", message)
    return f"PID {match.group(2)}, {match.group(1)}" if match else "unknown process"


class Connection:
    """The warehouse file and how it is opened: one connection per operation unless a session holds
    one (the file itself opened once for a block that `held` it); the base of `Warehouse`, whose
    reads and writes go through `connect` and `transaction`."""

    def __init__(
        self, path: Path | str, *, lock_timeout_seconds: float = 120.0, archived: bool = True
    ) -> None:
        self.path = Path(path)
        self.lock_timeout_seconds = lock_timeout_seconds
        self._session: duckdb.DuckDBPyConnection | None = None
        self._held: duckdb.DuckDBPyConnection | None = None
        self._in_snapshot = False
        self.archive = Archive(self.path.parent / ARCHIVE_FOLDER) if archived else None
        """Where raw writes and publications are also kept; None for a scratch copy or a rebuild's target."""

    @contextmanager
    def session(self) -> Iterator[Self]:
        """Keep one connection open for a series of operations (a trace reads a dozen tables):
        opening the file costs more than a small query."""
        if self._session is not None:
            yield self
            return
        with self._open() as connection:
            self._session = connection
            try:
                yield self
            finally:
                self._session = None

    @contextmanager
    def held(self) -> Iterator[Self]:
        """Keep the file open while the block runs (a Dagster step): each operation in it still has
        a connection and a transaction of its own, but DuckDB serves the connection from the open
        database (0.05 ms) instead of opening the file (25-40 ms, a few hundred times a month).
        The single-writer lock is held for the block, as a long write would hold it."""
        if self._held is not None:
            yield self
            return
        with self._open() as connection:
            self._held = connection
            try:
                yield self
            finally:
                self._held = None

    @contextmanager
    def snapshot(self) -> Iterator[Self]:
        """Reads that see one state of the warehouse: one connection, one read transaction, so that
        tables read one after the other cannot come from before and after another run's write.
        Nested uses share the outer snapshot."""
        if self._in_snapshot:
            yield self
            return
        with self.session(), self.transaction():
            self._in_snapshot = True
            try:
                yield self
            finally:
                self._in_snapshot = False

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The session's connection, or the file opened for this operation alone."""
        if self._session is not None:
            yield self._session
            return
        with self._open() as connection:
            yield connection

    @contextmanager
    def _open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the file, waiting (bounded) while another process holds the write lock; a file DuckDB
        cannot read, at the open or later, is reported as damaged, naming `cityindex rebuild`."""
        if self.archive is not None and not self.path.exists() and self.archive.holds_data():
            raise WarehouseDamagedError(
                f"no warehouse at {self.path}, but the archive {self.archive.root} holds what was stored "
                "in it: recreate the warehouse from the archive with `cityindex rebuild`"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        deadline = started + self.lock_timeout_seconds
        delay = 0.1
        while True:
            try:
                connection = duckdb.connect(str(self.path))
                break
            except duckdb.Error as error:
                if _LOCK_MESSAGE not in str(error):
                    if damaged := self._damaged(error):
                        raise damaged from error
                    raise
                holder = _lock_holder(str(error))
                if time.monotonic() >= deadline:
                    raise WarehouseLockedError(
                        f"{self.path} is locked by another process ({holder}); waited "
                        f"{self.lock_timeout_seconds:.0f} s. Let that process finish or stop it, then run again: "
                        "nothing was written by this one"
                    ) from None
                if delay == 0.1:
                    LOGGER.warning(
                        "%s is locked by another process (%s): waiting up to %.0f s",
                        self.path,
                        holder,
                        self.lock_timeout_seconds,
                    )
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        if delay > 0.1:
            LOGGER.warning("%s: lock acquired after %.1f s", self.path, time.monotonic() - started)
        try:
            stat = self.path.stat()
            checked = _BLOCKS_CHECKED.get(self.path)
            if checked is None or checked[0] != stat.st_ino or stat.st_size < checked[1]:
                self._check_blocks(connection)
            else:
                _BLOCKS_CHECKED[self.path] = (stat.st_ino, stat.st_size)
            yield connection
        except duckdb.Error as error:
            if damaged := self._damaged(error):
                raise damaged from error
            raise
        finally:
            connection.close()

    def _check_blocks(self, connection: duckdb.DuckDBPyConnection) -> None:
        """A file cut short of the blocks its tables use was truncated; DuckDB itself notices only
        when a read reaches a missing block, which may be much later (`count(*)` never does). At the
        first opening by this process, and again only if the file was replaced or shrank (0.05-0.2 s)."""
        known = {
            row[0]
            for row in connection.execute(
                "SELECT schema_name || '.' || table_name FROM duckdb_tables()"
            ).fetchall()
        }
        tables = [table for table in TABLES if table in known]
        if tables:
            used = " UNION ALL ".join(
                f"SELECT max(block_id) AS block FROM pragma_storage_info('{table}')" for table in tables
            )
            (highest,) = connection.execute(f"SELECT max(block) FROM ({used})").fetchall()[0]
            (block_size,) = connection.execute(
                "SELECT block_size FROM pragma_database_size() WHERE database_name = current_database()"
            ).fetchall()[0]
            on_disk = self.path.stat().st_size // block_size
            if highest is not None and highest >= on_disk:
                raise self._damaged_error(
                    f"truncated: its tables use block {highest}, the file holds {on_disk} blocks of {block_size:,} bytes"
                )
        stat = self.path.stat()
        _BLOCKS_CHECKED[self.path] = (stat.st_ino, stat.st_size)

    def _damaged(self, error: duckdb.Error) -> WarehouseDamagedError | None:
        """If DuckDB says the file is unreadable, the error that names the file and the way back."""
        message = str(error)
        if not any(sign in message for sign in _DAMAGE):
            return None
        return self._damaged_error(message.splitlines()[0])

    def _damaged_error(self, why: str) -> WarehouseDamagedError:
        return WarehouseDamagedError(
            f"{self.path} is damaged and cannot be read ({why}). Recreate it from the archive with "
            "`cityindex rebuild`: the damaged file is kept beside it, not deleted",
            reason=why,
        )

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One connection, one transaction: committed if the block ends, rolled back if it raises."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def query(self, sql: str, params: dict[str, object] | None = None) -> pl.DataFrame:
        with self.connect() as con:
            return con.sql(sql, params=params).pl()
