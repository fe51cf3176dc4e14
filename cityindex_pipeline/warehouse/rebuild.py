"""Recreate the warehouse from the archive (`cityindex rebuild`).

`restore` writes a new warehouse file from the archive alone: every pull (its status as it last
completed), every account it stored, document and source problem (each body and content from its
object, checked against its sha256), every publication (every publish.* table's rows of each version),
and, for each published month, the inputs its latest version was computed from (registry and platform
reference snapshots, the panel's scores). `rebuild_warehouse` restores into a file beside the
warehouse, sets a damaged (or, when forced, an intact) file aside under a dated name, never deleting
it, and renames the new file into place. `months_to_compute` then says which months to compute again
from the restored pulls, in month order, and with which methodology, so that the clean and index
tables, `trace` and the report are back, and nothing new is published when nothing changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse import durable
from cityindex_pipeline.warehouse.archive import Archive, pack_intact, versions_in
from cityindex_pipeline.warehouse.connection import (
    ARCHIVE_FOLDER,
    WarehouseDamagedError,
    WarehouseLockedError,
)
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.tables import MONTH_INPUTS, VERSIONED_TABLES, WarehouseSchemaError

MISSING_SHOWN = 5


class RebuildError(RuntimeError):
    """The warehouse cannot be rebuilt as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Restored:
    pulls: int
    complete_pulls: int
    documents: int
    problems: int
    publications: dict[Month, list[int]]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rebuilt:
    path: Path
    restored: Restored
    set_aside: Path | None
    """Where the file that was in place went (damaged, or replaced with --force); None if there was none."""
    why: str
    """Why the file in place could not be used ("" if there was none, or it was intact)."""
    unconfirmed: list[Path] = field(default_factory=list)
    """Staged publications kept aside: whether their version was committed died with the old file."""


def rebuild_warehouse(
    path: Path, exports_dir: Path, *, force: bool = False, lock_timeout_seconds: float = 5.0
) -> Rebuilt:
    """Restore the warehouse at `path` from the archive beside it. Refuses to replace a file that
    opens intact unless `force`; the file in place is renamed aside, never deleted. Staged publications
    (of the archive and the exports) are renamed aside too, to `unconfirmed-v<N>-<time>`: a version
    killed between its commit and its renames may have been published in the lost file, or not."""
    archive = Archive(path.parent / ARCHIVE_FOLDER)
    if not archive.holds_data():
        raise RebuildError(
            f"{archive.root} holds no pull and no publication: there is nothing to rebuild from"
        )
    why = ""
    if path.exists():
        why = _why_unusable(path, lock_timeout_seconds)
        if not why and not force:
            raise RebuildError(
                f"{path} opens and every table reads back intact: rebuilding would replace it. Run `cityindex rebuild --force` to "
                "rebuild it anyway (the current file is kept aside, not deleted)"
            )
    target = path.with_name(f"{path.stem}.rebuilding{path.suffix}")
    for leftover in (target, target.with_name(target.name + ".wal")):
        leftover.unlink(missing_ok=True)  # an earlier rebuild that stopped: never in place, never read
    restored = restore(archive, target)
    aside = _set_aside(path, "damaged" if why else "replaced") if path.exists() else None
    durable.rename_into_place(target, path)
    unconfirmed = [
        _keep_unconfirmed(staged, version)
        for folder in (*archive.root.glob("publications/*"), *_folders(exports_dir))
        for staged, version in versions_in(folder)[1].items()
    ]
    return Rebuilt(path, restored, aside, why, unconfirmed)


def _folders(folder: Path) -> list[Path]:
    return [child for child in folder.glob("*") if child.is_dir()] if folder.exists() else []


def _keep_unconfirmed(staged: Path, version: int) -> Path:
    kept = staged.with_name(f"unconfirmed-v{version}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{staged.name[-8:]}")
    os.rename(staged, kept)
    durable.sync_folder(kept.parent)
    return kept


def _why_unusable(path: Path, lock_timeout_seconds: float) -> str:
    """Why the file cannot be used as a warehouse ("" if it opens with this version's schema and every
    row of every table reads back)."""
    try:
        warehouse = Warehouse(path, archived=False, lock_timeout_seconds=lock_timeout_seconds)
        warehouse.ensure_schema()
        warehouse.read_every_table()
    except WarehouseLockedError as error:
        raise RebuildError(f"{error}. A rebuild needs the warehouse to itself") from None
    except WarehouseDamagedError as error:
        return f"damaged: {error.reason}"
    except WarehouseSchemaError as error:
        return str(error)
    return ""


def _set_aside(path: Path, label: str) -> Path:
    """Rename the file (and its write-ahead log) to a dated name beside it; never delete it."""
    aside = path.with_name(f"{path.stem}.{label}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}{path.suffix}")
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        os.rename(wal, aside.with_name(aside.name + ".wal"))
    os.rename(path, aside)
    durable.sync_folder(path.parent)
    return aside


def restore(archive: Archive, target: Path) -> Restored:
    """Write a new warehouse at `target` from the archive alone (see the module's docstring)."""
    warehouse = Warehouse(target, archived=False)
    warehouse.ensure_schema()
    notes: list[str] = []
    with warehouse.transaction() as con:
        _restore_pulls(con, archive)
    for folder in sorted(archive.root.glob("pulls/*/*")):
        with warehouse.transaction() as con:
            notes += _restore_documents(con, archive, folder.parent.name, folder.name)
    publications = {}
    with warehouse.transaction() as con:
        for month in archive.publication_months():
            versions = archive.publications(month)
            if versions:
                _restore_publication(con, versions)
                publications[month] = sorted(versions)
    with warehouse.connect() as con:
        con.execute("CHECKPOINT")
    counts = warehouse.query(
        "SELECT (SELECT count(*) FROM raw.pulls) AS pulls,"
        " (SELECT count(*) FROM raw.pulls WHERE status = 'complete') AS complete,"
        " (SELECT count(*) FROM raw.documents) AS documents,"
        " (SELECT count(*) FROM raw.source_problems) AS problems"
    ).row(0, named=True)
    return Restored(
        counts["pulls"], counts["complete"], counts["documents"], counts["problems"], publications, notes
    )


def _restore_pulls(con: duckdb.DuckDBPyConnection, archive: Archive) -> None:
    """raw.pulls as each pull began, with its latest completion."""
    started = [str(p) for p in archive.files("pulls/*/*/*/started.parquet")]
    completed = [str(p) for p in archive.files("pulls/*/*/*/completed-*.parquet")]
    if not started:
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE completions AS SELECT pull_id, status, completed_at, documents, problems "
        "FROM read_parquet($files, union_by_name = true) "
        "QUALIFY row_number() OVER (PARTITION BY pull_id ORDER BY completed_at DESC) = 1"
        if completed
        else "CREATE OR REPLACE TEMP TABLE completions (pull_id VARCHAR, status VARCHAR, "
        "completed_at TIMESTAMPTZ, documents INTEGER, problems INTEGER)",
        {"files": completed} if completed else None,
    )
    con.execute(
        "INSERT INTO raw.pulls BY NAME SELECT s.* REPLACE ("
        " coalesce(c.status, s.status) AS status, coalesce(c.completed_at, s.completed_at) AS completed_at,"
        " coalesce(c.documents, s.documents) AS documents, coalesce(c.problems, s.problems) AS problems)"
        " FROM read_parquet($files, union_by_name = true) s LEFT JOIN completions c ON c.pull_id = s.pull_id",
        {"files": started},
    )


def _restore_documents(
    con: duckdb.DuckDBPyConnection, archive: Archive, month: str, platform: str
) -> list[str]:
    """A month's platform: its stored accounts (each account's latest sealed batch of a pull), their
    documents and problems, bodies and contents from the objects that hash to their sha256."""
    where = f"pulls/{month}/{platform}/*"
    accounts = [  # of pulls whose start is archived: an earlier pull being archived writes it last
        str(p)
        for p in archive.files(f"{where}/*.pull_accounts.parquet")
        if (p.parent / "started.parquet").exists()
    ]
    if not accounts:
        return []
    notes = []
    con.execute("CREATE OR REPLACE TEMP TABLE objects (sha256 VARCHAR, data BLOB)")
    packs = archive.files(f"objects/{month}/{platform}/*.parquet")
    for pack in packs:
        if not pack_intact(pack):
            notes.append(f"{pack.relative_to(archive.root)} is damaged (its sha256 is not its name): skipped")
    intact = [str(pack) for pack in packs if pack_intact(pack)]
    if intact:  # and each object checked against its own address
        con.execute(
            "INSERT INTO objects SELECT sha256, data FROM read_parquet($packs) WHERE sha256(data) = sha256",
            {"packs": intact},
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE chosen AS SELECT pull_id, account_handle, batch "
        "FROM read_parquet($files, union_by_name = true) "
        "QUALIFY row_number() OVER (PARTITION BY pull_id, account_handle ORDER BY stored_at DESC, batch DESC) = 1",
        {"files": accounts},
    )
    con.execute(
        "INSERT INTO raw.pull_accounts BY NAME SELECT a.* EXCLUDE (batch) FROM read_parquet($files, union_by_name = true) a "
        "SEMI JOIN chosen c ON c.pull_id = a.pull_id AND c.account_handle = a.account_handle AND c.batch = a.batch",
        {"files": accounts},
    )
    kept = {
        "raw.documents": ("documents", "body", "decode(o.data)", "d.account_handle"),
        "raw.source_problems": ("source_problems", "content", "o.data", "coalesce(d.account_handle, '')"),
    }
    for table, (kind, column, value, handle) in kept.items():
        files = [str(p) for p in archive.files(f"{where}/*.{kind}.parquet")]
        if not files:
            continue
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE kept AS SELECT d.* FROM read_parquet($files, union_by_name = true) d "
            f"SEMI JOIN chosen c ON c.pull_id = d.pull_id AND c.account_handle = {handle} AND c.batch = d.batch",
            {"files": files},
        )
        missing = con.sql(
            "SELECT pull_id, account_handle, sha256 FROM kept d ANTI JOIN objects o ON o.sha256 = d.sha256"
        ).fetchall()
        if missing:
            shown = "; ".join(
                f"{pull} @{handle} {sha256[:16]}…" for pull, handle, sha256 in missing[:MISSING_SHOWN]
            )
            raise RebuildError(
                f"{len(missing)} of the archived {kind.replace('_', ' ')} of {platform} {month} have no intact "
                f"object in {archive.root / 'objects' / month / platform} (e.g. {shown}): the archive is "
                "damaged there, so the warehouse is not rebuilt"
            )
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT d.* EXCLUDE (batch), {value} AS {column} FROM kept d "
            "JOIN (SELECT sha256, any_value(data) AS data FROM objects GROUP BY sha256) o ON o.sha256 = d.sha256"
        )
    return notes


def _restore_publication(con: duckdb.DuckDBPyConnection, versions: dict[int, Path]) -> None:
    """Every version's publish.* rows; the month's inputs and panel as its latest version had them."""
    for folder in versions.values():
        for table in VERSIONED_TABLES:
            if (folder / f"{table}.parquet").exists():
                con.execute(
                    f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet($file)",
                    {"file": str(folder / f"{table}.parquet")},
                )
    latest = versions[max(versions)]
    for table in MONTH_INPUTS:
        if (latest / f"{table}.parquet").exists():
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet($file)",
                {"file": str(latest / f"{table}.parquet")},
            )
    panel = latest / "publish.qualitative_inputs.parquet"
    if panel.exists():
        con.execute(
            "INSERT INTO idx.qualitative_scores BY NAME SELECT * EXCLUDE (version) FROM read_parquet($file)",
            {"file": str(panel)},
        )
