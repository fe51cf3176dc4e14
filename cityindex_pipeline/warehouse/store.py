"""The one home of storage: DuckDB schemas, append-only raw pulls, atomic month replacement, reads.

Every monthly table carries `month` (DATE, first day) and `run_id`. Writes of a month are
delete-then-insert inside one transaction, so a reader sees the old month or the new one,
never a mix; raw documents are only ever appended, and each raw write and each publication is also
kept in the archive beside the file (`archive.py`) before it commits, so the file can be recreated
(`cityindex rebuild`). A file that cannot be read, or is gone while the archive holds data, stops
every command with a message naming it and that command.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from cityindex_pipeline.core.fingerprint import documents_sha256, tables_sha256
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse import durable
from cityindex_pipeline.warehouse.archive import Archive

SCHEMAS = ("raw", "clean", "idx", "publish")

TABLES: dict[str, str] = {
    "raw.pulls": """
        pull_id VARCHAR PRIMARY KEY, month DATE NOT NULL, platform VARCHAR NOT NULL,
        source VARCHAR NOT NULL, run_id VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL,
        completed_at TIMESTAMPTZ, status VARCHAR NOT NULL, accounts INTEGER NOT NULL,
        documents INTEGER, problems INTEGER""",
    "raw.pull_accounts": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, pull_id VARCHAR NOT NULL, platform VARCHAR NOT NULL,
        account_handle VARCHAR NOT NULL, documents INTEGER NOT NULL, problems INTEGER NOT NULL,
        stored_at TIMESTAMPTZ NOT NULL""",
    "raw.source_problems": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, pull_id VARCHAR NOT NULL, platform VARCHAR NOT NULL,
        account_handle VARCHAR, location VARCHAR NOT NULL, reason VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
        content BLOB NOT NULL""",
    "raw.documents": """
        month DATE NOT NULL, platform VARCHAR NOT NULL, account_handle VARCHAR NOT NULL,
        endpoint VARCHAR NOT NULL, page INTEGER NOT NULL, body VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL, pull_id VARCHAR NOT NULL, fetched_at TIMESTAMPTZ NOT NULL,
        request_url VARCHAR NOT NULL, source VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
        unusable_reason VARCHAR, reading_rules VARCHAR, judged_sha256 VARCHAR""",
    "clean.registry_cities": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, registry_version VARCHAR NOT NULL,
        city_id VARCHAR NOT NULL, name_en VARCHAR NOT NULL, name_zh VARCHAR NOT NULL,
        province_en VARCHAR NOT NULL, province_zh VARCHAR NOT NULL, tier VARCHAR NOT NULL,
        longitude DOUBLE NOT NULL, latitude DOUBLE NOT NULL""",
    "clean.registry_accounts": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, registry_version VARCHAR NOT NULL,
        city_id VARCHAR NOT NULL, platform VARCHAR NOT NULL, account_handle VARCHAR NOT NULL,
        platform_account_id VARCHAR NOT NULL, display_name VARCHAR NOT NULL, started_on DATE NOT NULL,
        provenance VARCHAR NOT NULL, active BOOLEAN NOT NULL""",
    "clean.posts": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, platform VARCHAR NOT NULL, city_id VARCHAR NOT NULL,
        account_handle VARCHAR NOT NULL, platform_account_id VARCHAR NOT NULL, post_id VARCHAR NOT NULL,
        published_at_utc TIMESTAMPTZ NOT NULL, published_at_beijing TIMESTAMP NOT NULL,
        content_type VARCHAR NOT NULL, text_excerpt VARCHAR, permalink VARCHAR, hashtags VARCHAR[],
        likes BIGINT, comments BIGINT, shares BIGINT, quotes BIGINT, saves BIGINT, views BIGINT,
        exposures BIGINT, reach BIGINT, duration_seconds BIGINT, interactions BIGINT NOT NULL,
        interactions_complete BOOLEAN NOT NULL, source_sha256 VARCHAR NOT NULL,
        insights_sha256 VARCHAR, pull_id VARCHAR NOT NULL, fetched_at TIMESTAMPTZ NOT NULL""",
    "clean.account_metrics": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, platform VARCHAR NOT NULL, city_id VARCHAR NOT NULL,
        account_handle VARCHAR NOT NULL, platform_account_id VARCHAR NOT NULL, followers BIGINT,
        followers_previous BIGINT, follower_growth BIGINT, posts BIGINT NOT NULL,
        active_days BIGINT NOT NULL, video_posts BIGINT NOT NULL, interactions BIGINT NOT NULL,
        interactions_per_post DOUBLE, views BIGINT, views_per_video DOUBLE, exposures BIGINT,
        profile_sha256 VARCHAR, pull_id VARCHAR NOT NULL""",
    "clean.quarantine": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, platform VARCHAR NOT NULL,
        account_handle VARCHAR NOT NULL, endpoint VARCHAR NOT NULL, location VARCHAR NOT NULL,
        source_sha256 VARCHAR NOT NULL, record_id VARCHAR, reason VARCHAR NOT NULL, record VARCHAR NOT NULL""",
    "idx.platform_reference": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, platform VARCHAR NOT NULL,
        monthly_active_users_millions DOUBLE NOT NULL, daily_minutes_per_user DOUBLE NOT NULL,
        relevance DOUBLE NOT NULL, reference_note VARCHAR NOT NULL""",
    "idx.platform_weights": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, platform VARCHAR NOT NULL,
        user_scale_share DOUBLE NOT NULL, activity_share DOUBLE NOT NULL, relevance_share DOUBLE NOT NULL,
        weight DOUBLE NOT NULL, methodology_version VARCHAR NOT NULL""",
    "idx.platform_indicators": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, platform VARCHAR NOT NULL, city_id VARCHAR NOT NULL,
        dimension VARCHAR NOT NULL, indicator VARCHAR NOT NULL, indicator_weight DOUBLE NOT NULL,
        raw_value DOUBLE, transform VARCHAR NOT NULL, treated_value DOUBLE, platform_min DOUBLE,
        platform_max DOUBLE, normalised DOUBLE, accounts INTEGER NOT NULL,
        methodology_version VARCHAR NOT NULL, skewness DOUBLE, kurtosis DOUBLE, winsorised_points INTEGER,
        treated_skewness DOUBLE, treated_kurtosis DOUBLE, winsorised BOOLEAN""",
    "idx.platform_index": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, platform VARCHAR NOT NULL, city_id VARCHAR NOT NULL,
        generate_score DOUBLE NOT NULL, interactive_score DOUBLE NOT NULL, utilize_score DOUBLE NOT NULL,
        score DOUBLE NOT NULL, rank INTEGER NOT NULL, in_top_ten BOOLEAN NOT NULL,
        previous_rank INTEGER, rank_change INTEGER, methodology_version VARCHAR NOT NULL,
        previous_score DOUBLE, score_change DOUBLE""",
    "idx.qualitative_scores": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, city_id VARCHAR NOT NULL, rater VARCHAR NOT NULL,
        criterion VARCHAR NOT NULL, score DOUBLE NOT NULL, source VARCHAR NOT NULL, carried_from DATE""",
    "idx.comprehensive_index": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, city_id VARCHAR NOT NULL,
        quantitative_score DOUBLE NOT NULL, qualitative_score DOUBLE NOT NULL,
        quantitative_share DOUBLE NOT NULL, qualitative_share DOUBLE NOT NULL, score DOUBLE NOT NULL,
        rank INTEGER NOT NULL, platforms_present INTEGER NOT NULL, previous_score DOUBLE,
        previous_rank INTEGER, score_change DOUBLE, rank_change INTEGER,
        methodology_version VARCHAR NOT NULL, in_top_ten BOOLEAN""",
    "idx.index_uncertainty": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, city_id VARCHAR NOT NULL, nominal_rank INTEGER NOT NULL,
        median_rank DOUBLE NOT NULL, rank_p05 INTEGER NOT NULL, rank_p95 INTEGER NOT NULL,
        robust BOOLEAN NOT NULL, draws INTEGER NOT NULL, seed BIGINT NOT NULL,
        methodology_version VARCHAR NOT NULL""",
    "idx.uncertainty_sensitivity": """
        month DATE NOT NULL, run_id VARCHAR NOT NULL, choice VARCHAR NOT NULL,
        mean_rank_variance_alone DOUBLE NOT NULL, share_of_total_variance DOUBLE NOT NULL,
        mean_abs_rank_shift DOUBLE NOT NULL, methodology_version VARCHAR NOT NULL""",
    "publish.publications": """
        month DATE NOT NULL, version INTEGER NOT NULL, run_id VARCHAR NOT NULL,
        published_at TIMESTAMPTZ NOT NULL, content_sha256 VARCHAR NOT NULL,
        methodology_version VARCHAR NOT NULL, registry_version VARCHAR NOT NULL, pull_ids VARCHAR[] NOT NULL,
        cities INTEGER NOT NULL, reason VARCHAR, code_version VARCHAR, inputs_sha256 VARCHAR,
        raw_documents INTEGER, qualitative_sha256 VARCHAR, checks VARCHAR, warnings VARCHAR,
        override_reason VARCHAR, overridden_checks VARCHAR[], export_dir VARCHAR, manifest_sha256 VARCHAR,
        previous_version INTEGER, previous_inputs_sha256 VARCHAR,
        PRIMARY KEY (month, version)""",
    "publish.qualitative_inputs": """
        month DATE NOT NULL, version INTEGER NOT NULL, run_id VARCHAR NOT NULL, city_id VARCHAR NOT NULL,
        rater VARCHAR NOT NULL, criterion VARCHAR NOT NULL, score DOUBLE NOT NULL, source VARCHAR NOT NULL,
        carried_from DATE""",
    "publish.previous_inputs": """
        month DATE NOT NULL, version INTEGER NOT NULL, run_id VARCHAR NOT NULL, previous_month DATE NOT NULL,
        source_table VARCHAR NOT NULL, rows INTEGER NOT NULL, data_sha256 VARCHAR NOT NULL,
        content BLOB NOT NULL""",
    "publish.index": """
        month DATE NOT NULL, version INTEGER NOT NULL, run_id VARCHAR NOT NULL, city_id VARCHAR NOT NULL,
        name_en VARCHAR NOT NULL, name_zh VARCHAR NOT NULL, rank INTEGER NOT NULL, score DOUBLE NOT NULL,
        quantitative_score DOUBLE NOT NULL, qualitative_score DOUBLE NOT NULL,
        facebook_score DOUBLE, x_score DOUBLE, instagram_score DOUBLE, youtube_score DOUBLE,
        previous_rank INTEGER, rank_change INTEGER, score_change DOUBLE, median_rank DOUBLE,
        rank_p05 INTEGER, rank_p95 INTEGER, rank_robust BOOLEAN""",
}
"""DDL of every table: the schemas outside tools rely on (see README, "Tables")."""

_LOCK_MESSAGE = "Could not set lock"
_BLOCKS_CHECKED: dict[Path, tuple[int, int]] = {}
"""Inode and size of each warehouse file as this process last opened it: checked for truncation at the
first opening, and again only if it was replaced or shrank since (`Warehouse._check_blocks`)."""
LOGGER = logging.getLogger("cityindex.warehouse")


def _lock_holder(message: str) -> str:
    """DuckDB names the process holding the lock: `... is held in /usr/bin/python3 (PID 1234)`."""
    match = re.search(r"held in (.+?) \(PID (\d+)\)", message)
    return f"PID {match.group(2)}, {match.group(1)}" if match else "unknown process"


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


VERSIONED_TABLES = tuple(
    table
    for table, ddl in TABLES.items()
    if table.startswith("publish.") and "version" in dict(column_definitions(ddl))
)
"""The publish.* tables written with a version, in the version's transaction: what a version is."""
MONTH_INPUTS = ("clean.registry_cities", "clean.registry_accounts", "idx.platform_reference")
"""The month's inputs besides the pulls and the panel, as the month's run snapshotted them: kept with
each version in the archive, and what `verify` recomputes from."""
ARCHIVE_FOLDER = "archive"
"""The archive lives beside the warehouse file: `$CITYINDEX_HOME/archive/`."""
_DAMAGE = (
    "not a valid DuckDB database file",
    "Could not read enough bytes",
    "Corrupt database file",
    "Failure while replaying WAL",
)
"""What DuckDB says of a truncated or corrupt file (seen with DuckDB 2.0)."""


class WarehouseDamagedError(RuntimeError):
    """The warehouse file cannot be read (truncated, corrupt), or is gone while the archive holds what
    was stored in it; the message names the file and `cityindex rebuild`, `reason` says what is wrong."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class WarehouseSchemaError(RuntimeError):
    """The warehouse was written by an older version in a way this one cannot extend in place."""


class WarehouseLockedError(RuntimeError):
    """Another process holds DuckDB's single-writer lock for longer than we were willing to wait."""


class Warehouse:
    """DuckDB file with the cityindex schemas; one connection per operation, writes in transactions."""

    def __init__(
        self, path: Path | str, *, lock_timeout_seconds: float = 120.0, archived: bool = True
    ) -> None:
        self.path = Path(path)
        self.lock_timeout_seconds = lock_timeout_seconds
        self._session: duckdb.DuckDBPyConnection | None = None
        self._in_snapshot = False
        self.archive = Archive(self.path.parent / ARCHIVE_FOLDER) if archived else None
        """Where raw writes and publications are also kept; None for a scratch copy or a rebuild's target."""

    @contextmanager
    def session(self) -> Iterator[Warehouse]:
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
    def snapshot(self) -> Iterator[Warehouse]:
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

    def ensure_schema(self) -> None:
        """Create what is missing; add nullable columns a newer version introduced to older tables.
        A missing NOT NULL column cannot be filled in for old rows: that is an error naming it."""
        with self.transaction() as con:
            for schema in SCHEMAS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for table, ddl in TABLES.items():
                con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
            # one query for every table's columns: one per table cost 30 ms each (0.6 s per step)
            columns: dict[str, set[str]] = {}
            for table, column in con.sql(
                "SELECT table_schema || '.' || table_name, column_name FROM information_schema.columns"
            ).fetchall():
                columns.setdefault(table, set()).add(column)
            for table, ddl in TABLES.items():
                existing = columns.get(table, set())
                for column, definition in column_definitions(ddl):
                    if column in existing:
                        continue
                    if "NOT NULL" in definition.upper():
                        raise WarehouseSchemaError(
                            f"{self.path}: table {table} lacks the required column {column!r} of this version; "
                            "rebuild the warehouse from its raw documents or start a new CITYINDEX_HOME"
                        )
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {definition}")

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
        _check_tables(frames)
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

    def unfinished_pull(self, month: Month, platform: str, source: str) -> dict[str, object] | None:
        """The newest pull of this month, platform and source that stopped before completing."""
        pulls = self.query(
            "SELECT * FROM raw.pulls WHERE month = $month AND platform = $platform AND source = $source "
            "ORDER BY started_at DESC, pull_id DESC LIMIT 1",
            {"month": month.first_day, "platform": platform, "source": source},
        )
        if pulls.height == 0 or pulls["status"][0] != "in_progress":
            return None
        return pulls.row(0, named=True)

    def stored_accounts(self, pull_id: str) -> set[str]:
        rows = self.query(
            "SELECT account_handle FROM raw.pull_accounts WHERE pull_id = $pull_id", {"pull_id": pull_id}
        )
        return set(rows["account_handle"])

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
                lists = {k: pl.List(pl.String) for k in ("pull_ids", "overridden_checks") if k in publication}
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
                        _publication_frames(con, month, version),  # type: ignore[arg-type]
                    )
                if before_commit is not None:
                    before_commit()
        except BaseException:
            if staged is not None:
                durable.discard(staged)  # never committed: its copy goes too
            raise
        return staged

    def publication_frames(self, month: Month, version: int) -> dict[str, pl.DataFrame]:
        """What the archive keeps of a committed version (see `_publication_frames`)."""
        with self.connect() as con:
            return _publication_frames(con, month.first_day, version)

    def append(self, table: str, frame: pl.DataFrame) -> None:
        """Append rows exactly as given (their own month and run id): copies between warehouses."""
        _check_tables({table: None})
        with self.transaction() as con:
            _insert(con, table, frame)

    # -- reads ----------------------------------------------------------------------------------

    def query(self, sql: str, params: dict[str, object] | None = None) -> pl.DataFrame:
        with self.connect() as con:
            return con.sql(sql, params=params).pl()

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
        _check_tables({table: None})
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

    def latest_pull(self, month: Month, platform: str) -> dict[str, object] | None:
        """The newest complete pull of a platform's month: what downstream assets read."""
        pulls = self.query(
            "SELECT * FROM raw.pulls WHERE month = $month AND platform = $platform AND status = 'complete' "
            "ORDER BY completed_at DESC, pull_id DESC LIMIT 1",
            {"month": month.first_day, "platform": platform},
        )
        return pulls.row(0, named=True) if pulls.height else None

    def raw_documents(self, month: Month, platform: str) -> pl.DataFrame:
        """Documents of the latest complete pull of the month for a platform (empty if none), by
        account, endpoint and page. Sorted here, not by DuckDB: its ORDER BY carries every body
        through the sort, which doubled the memory a month's documents take to read."""
        pull = self.latest_pull(month, platform)
        if pull is None:
            return self.query("SELECT * FROM raw.documents WHERE false")
        documents = self.query(
            "SELECT * FROM raw.documents WHERE pull_id = $pull_id", {"pull_id": pull["pull_id"]}
        )
        return documents.sort("account_handle", "endpoint", "page", maintain_order=True)

    def document_keys(self, pull_ids: Sequence[str]) -> pl.DataFrame:
        """Platform, account, endpoint, page and sha256 of the pulls' documents, without their bodies:
        what fingerprints of raw documents need."""
        return self.query(
            "SELECT platform, account_handle, endpoint, page, sha256 FROM raw.documents "
            "WHERE list_contains($pull_ids, pull_id)",
            {"pull_ids": list(pull_ids)},
        )

    def pull_documents_sha256(self, pull_id: str) -> str:
        """Which documents a pull holds, by their own sha256 (`fingerprint.documents_sha256`)."""
        return documents_sha256(self.document_keys([pull_id]))

    def source_problems(self, pull_id: str) -> pl.DataFrame:
        """What a pull recorded as unusable (files, error responses), with the reason."""
        return self.query(
            "SELECT * FROM raw.source_problems WHERE pull_id = $pull_id ORDER BY location",
            {"pull_id": pull_id},
        )

    def read_version(self, table: str, month: Month, version: int) -> pl.DataFrame:
        """The rows of one publication version in a `publish.*` table (`version` column)."""
        _check_tables({table: None})
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

    def table_counts(self) -> dict[str, int]:
        """Rows per table, for the note a run prints and for tests."""
        with self.connect() as con:
            return {table: con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0] for table in TABLES}


_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def _check_tables(frames: dict[str, object]) -> None:
    unknown = sorted(set(frames) - set(TABLES))
    if unknown:
        raise KeyError(f"unknown table(s) {unknown}; known: {sorted(TABLES)}")


def _pull_row(con: duckdb.DuckDBPyConnection, pull_id: str, columns: str) -> pl.DataFrame:
    return con.sql(
        f"SELECT {columns} FROM raw.pulls WHERE pull_id = $pull_id", params={"pull_id": pull_id}
    ).pl()


def _publication_frames(
    con: duckdb.DuckDBPyConnection, month: object, version: int
) -> dict[str, pl.DataFrame]:
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


def _stamp(frame: pl.DataFrame, month: Month, run_id: str) -> pl.DataFrame:
    """Every row of a monthly table carries its month and the run that wrote it."""
    return frame.with_columns(pl.lit(month.first_day).alias("month"), pl.lit(run_id).alias("run_id"))


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.height == 0:
        return
    con.register("_incoming", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
    finally:
        con.unregister("_incoming")


def utc_now() -> datetime:
    return datetime.now(UTC)
