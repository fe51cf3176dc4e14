"""The archive: every raw document and every publication, kept outside the warehouse file, so that a
damaged or lost `warehouse.duckdb` can be recreated from it (`cityindex rebuild`).

`$CITYINDEX_HOME/archive/` is append-only: each file is written once under its final name (staged,
flushed, renamed) and never rewritten; writing a name that exists verifies the bytes instead.

    objects/<YYYY-MM>/<platform>/<sha256>.parquet
        response bodies (their UTF-8 bytes) and the contents of source problems, each addressed by the
        sha256 of its bytes: one pack per stored batch, holding what that month's platform did not
        hold yet (columns sha256, data; zstd), named by the sha256 of the pack file itself
    pulls/<YYYY-MM>/<platform>/<pull_id>/
        started.parquet                  the raw.pulls row as the pull began
        <batch>.documents.parquet        the batch's raw.documents rows, the body left to its object
        <batch>.source_problems.parquet  its raw.source_problems rows, the content left to its object
        <batch>.pull_accounts.parquet    its raw.pull_accounts rows, written last: the batch's seal
        completed-<sha256>.parquet       the pull's status, counts and time when it completed
    publications/<YYYY-MM>/v<N>/<schema.table>.parquet
        every publish.* table's rows of the version, and the month's inputs it was computed from

Every write happens inside the warehouse transaction it mirrors, before its commit: whatever the
warehouse holds, the archive holds. The converse is not quite true: a batch whose commit failed (a
crash, a full disk) stays archived; it holds accounts received whole, and a resumed pull stores them
again in a later batch, which `rebuild` prefers. A publication's copy is staged before the commit and
renamed into place after it, like its export (see `publication.py`).

Why packs and not a file per document: at scale 100 a month is ~120,000 documents; a flushed file each
took 0.5 ms here (a minute a month), a pack per batch of 100 accounts 0.05 ms a document.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse import durable

LOGGER = logging.getLogger("cityindex.archive")
PACK_SCHEMA = {"sha256": pl.String(), "data": pl.Binary()}
_VERSION = re.compile(r"^v(\d+)$")
_STAGED_VERSION = re.compile(r"^\.v(\d+)\.(?:staged|tmp)-")


class ArchiveError(RuntimeError):
    """The archive cannot take or give what was asked without breaking its rules; the message says why."""


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    """A frame as Parquet (zstd), deterministic for the same rows: the same batch archived twice is
    the same file."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=False)
    return buffer.getvalue()


def _month_folder(month: date | Month) -> str:
    return str(month if isinstance(month, Month) else Month.of(month))


def pack_intact(pack: Path) -> bool:
    """A pack's bytes still hash to its name (`<sha256>.parquet`, or `<sha256>.<n>.parquet`)."""
    return hashlib.sha256(pack.read_bytes()).hexdigest() == pack.name.split(".")[0]


def _pack_path(folder: Path, data: bytes) -> Path:
    """Where a pack goes: named by its sha256; if a damaged file holds that name, beside it under the
    next free `<sha256>.<n>.parquet` (the damaged file is kept as it is)."""
    digest = hashlib.sha256(data).hexdigest()
    path, copies = folder / f"{digest}.parquet", 0
    while path.exists() and not pack_intact(path):
        copies += 1
        path = folder / f"{digest}.{copies}.parquet"
    return path


class Archive:
    """The archive folder; one writer at a time (it writes inside the warehouse's transactions, under
    DuckDB's single-writer lock)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._held: dict[Path, set[str]] = {}
        self._swept: set[Path] = set()

    def holds_data(self) -> bool:
        """Whether anything was ever archived here (a pull or a publication)."""
        return any((self.root / "pulls").glob("*/*/*")) or any((self.root / "publications").glob("*/v*"))

    # -- raw pulls -------------------------------------------------------------------------------

    def pull_folder(self, month: date | Month, platform: str, pull_id: str) -> Path:
        return self.root / "pulls" / _month_folder(month) / platform / pull_id

    def objects_folder(self, month: date | Month, platform: str) -> Path:
        return self.root / "objects" / _month_folder(month) / platform

    def start_pull(self, pull: pl.DataFrame) -> None:
        """Archive a pull's raw.pulls row (one row) as it begins."""
        row = pull.row(0, named=True)
        folder = self._writable(self.pull_folder(row["month"], row["platform"], row["pull_id"]))
        durable.write_once(folder / "started.parquet", parquet_bytes(pull))
        durable.sync_folder(folder)

    def store_batch(self, accounts: pl.DataFrame, documents: pl.DataFrame, problems: pl.DataFrame) -> None:
        """Archive a batch of stored accounts: new objects first, then the batch's records, its
        accounts last (the seal: a batch without them is ignored), each flushed before the next."""
        if accounts.height == 0:
            return
        first = accounts.row(0, named=True)
        month, platform, pull_id = first["month"], first["platform"], first["pull_id"]
        self._store_objects(month, platform, documents, problems)
        folder = self._writable(self.pull_folder(month, platform, pull_id))
        batch = batch_name(accounts)
        tagged = {
            "documents": documents.drop("body"),
            "source_problems": problems.drop("content"),
        }
        for table, frame in tagged.items():
            durable.write_once(
                folder / f"{batch}.{table}.parquet",
                parquet_bytes(frame.with_columns(pl.lit(batch).alias("batch"))),
            )
        durable.sync_folder(folder)
        durable.write_once(
            folder / f"{batch}.pull_accounts.parquet",
            parquet_bytes(accounts.with_columns(pl.lit(batch).alias("batch"))),
        )
        durable.sync_folder(folder)

    def complete_pull(self, completion: pl.DataFrame) -> None:
        """Archive a pull's completion (one row: pull_id, month, platform, status, completed_at,
        documents, problems). A pull completed twice (the first commit failed) keeps both; the later
        one counts."""
        row = completion.row(0, named=True)
        folder = self._writable(self.pull_folder(row["month"], row["platform"], row["pull_id"]))
        data = parquet_bytes(completion)
        durable.write_once(folder / f"completed-{hashlib.sha256(data).hexdigest()}.parquet", data)
        durable.sync_folder(folder)

    def _store_objects(
        self, month: date, platform: str, documents: pl.DataFrame, problems: pl.DataFrame
    ) -> None:
        """Pack the bodies and problem contents the month's platform does not hold yet."""
        objects = pl.concat(
            [
                documents.select("sha256", pl.col("body").cast(pl.Binary).alias("data")),
                problems.select("sha256", pl.col("content").alias("data")),
            ]
        ).unique("sha256", keep="first", maintain_order=True)
        wrong = [sha256 for sha256, data in objects.iter_rows() if hashlib.sha256(data).hexdigest() != sha256]
        if wrong:
            raise ArchiveError(
                f"{len(wrong)} document(s) of {platform} {_month_folder(month)} carry a sha256 that is not "
                f"their content's (first: {wrong[0]}): refusing to archive them under a wrong address"
            )
        folder = self.objects_folder(month, platform)
        held = self._objects_held(folder)
        new = objects.filter(~pl.col("sha256").is_in(list(held)))
        if new.height == 0:
            return
        data = parquet_bytes(new.cast(PACK_SCHEMA))  # type: ignore[arg-type]
        durable.write_once(_pack_path(self._writable(folder), data), data)
        durable.sync_folder(folder)
        held.update(new["sha256"])

    def _objects_held(self, folder: Path) -> set[str]:
        """The sha256 of every object in the folder's intact packs. A pack whose bytes no longer hash
        to its name is reported and not counted, so its objects are packed again as they come."""
        if folder not in self._held:
            held: set[str] = set()
            for pack in sorted(folder.glob("*.parquet")):
                if not pack_intact(pack):
                    LOGGER.warning(
                        "%s is damaged (its sha256 is not its name): its objects are not counted", pack
                    )
                    continue
                held.update(pl.read_parquet(pack, columns=["sha256"])["sha256"])
            self._held[folder] = held
        return self._held[folder]

    def _writable(self, folder: Path) -> Path:
        """The folder, created if need be, without the partial files a killed writer left in it."""
        if folder not in self._swept:
            durable.make_folders(folder)
            for partial in folder.glob(".*.partial-*"):
                partial.unlink(missing_ok=True)
            self._swept.add(folder)
        return folder

    # -- publications ----------------------------------------------------------------------------

    def publication_folder(self, month: Month) -> Path:
        return self.root / "publications" / str(month)

    def stage_publication(self, month: Month, version: int, frames: Mapping[str, pl.DataFrame]) -> Path:
        """Write a version's rows (a frame per table) into a staging folder, flushed; the caller renames
        it to `v<N>` once the version is committed (`durable.rename_into_place`)."""
        staged = durable.staging_folder(self.publication_folder(month) / f"v{version}")
        for table, frame in frames.items():
            durable.write_file(staged / f"{table}.parquet", parquet_bytes(frame))
        return staged

    def publications(self, month: Month) -> dict[int, Path]:
        """The placed versions of a month's publications, by version."""
        return versions_in(self.publication_folder(month))[0]

    def staged_publications(self, month: Month) -> dict[Path, int]:
        """Staging folders of the month's publications (a publication killed or failed on its way)."""
        return versions_in(self.publication_folder(month))[1]

    def publication_months(self) -> list[Month]:
        months = []
        for folder in sorted((self.root / "publications").glob("*")):
            try:
                months.append(Month.parse(folder.name))
            except ValueError:
                continue
        return months

    # -- reading, for rebuild ----------------------------------------------------------------------

    def files(self, pattern: str) -> list[Path]:
        """Archived files matching a glob under the archive, staging names left out."""
        return sorted(path for path in self.root.glob(pattern) if not path.name.startswith("."))

    def packs(self) -> Iterator[tuple[Path, list[Path]]]:
        """Each month's platform folder of objects, with its packs."""
        for folder in sorted(self.root.glob("objects/*/*")):
            yield folder, self.files(f"{folder.relative_to(self.root)}/*.parquet")


def batch_name(accounts: pl.DataFrame) -> str:
    """A batch's name: the time its first account was stored, and a digest of its accounts (the same
    batch archived again, after a failed commit, gets the same name and is verified, not doubled)."""
    lines = "\n".join(
        f"{row['pull_id']}|{row['account_handle']}|{row['stored_at'].isoformat()}"
        for row in accounts.iter_rows(named=True)
    )
    first = min(accounts["stored_at"])
    return f"{first:%Y%m%dT%H%M%S%fZ}-{hashlib.sha256(lines.encode('utf-8')).hexdigest()[:16]}"


def versions_in(folder: Path) -> tuple[dict[int, Path], dict[Path, int]]:
    """A month's folder of versions: the placed ones (`v<N>`) by version, and the staging folders
    (`.v<N>.staged-<token>`, or `.v<N>.tmp-<token>` of the protocol before staging was named so) with
    their version."""
    placed, staged = {}, {}
    for path in sorted(folder.glob("*")) if folder.exists() else []:
        if not path.is_dir():
            continue
        if match := _VERSION.match(path.name):
            placed[int(match.group(1))] = path
        elif match := _STAGED_VERSION.match(path.name):
            staged[path] = int(match.group(1))
    return placed, staged
