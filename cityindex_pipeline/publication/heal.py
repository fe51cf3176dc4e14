"""The heal: what a kill or a full disk left between two steps of publishing (see `publish`),
finished if the version was committed, undone if it was not, before every publication and in
`cityindex verify` and `cityindex rebuild`."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.publication.files import manifest_sha256, place_archive, place_export, stage_export
from cityindex_pipeline.publication.records import CONTENT_COLUMNS, PublicationError
from cityindex_pipeline.warehouse import durable
from cityindex_pipeline.warehouse.archive import versions_in
from cityindex_pipeline.warehouse.publication_tables import published_index, published_months
from cityindex_pipeline.warehouse.store import Warehouse


def heal_publications(
    warehouse: Warehouse, exports_dir: Path, months: list[Month] | None = None
) -> list[str]:
    """Finish or undo what a kill or a full disk left between two steps of publishing, for the given
    months (default: every month with an export, an archived or a committed publication); returns a
    line per thing done. Refuses, changing nothing, when the archive holds versions the warehouse lacks."""
    archive = warehouse.archive
    if months is None:
        found = published_months(warehouse)
        found |= set(archive.publication_months() if archive is not None else [])
        found |= set(_months_in(exports_dir))
        months = sorted(found)
    records = {
        month: {int(row["version"]): row for row in warehouse.publications(month).iter_rows(named=True)}
        for month in months
    }
    if archive is not None:
        lacking = [
            f"{month} v{version}"
            for month in months
            for version in sorted(set(archive.publications(month)) - set(records[month]))
        ]
        if lacking:
            raise PublicationError(
                f"the archive {archive.root} holds publications that {warehouse.path} lacks ({', '.join(lacking)}): "
                "this warehouse is not the one they were published in. Recreate it from the archive with "
                "`cityindex rebuild`"
            )
    done = []
    for month in months:
        if archive is not None:
            done += _heal_archive_copies(warehouse, month, records[month])
        done += _heal_exports(warehouse, exports_dir, month, records[month])
    return done


def _heal_archive_copies(warehouse: Warehouse, month: Month, records: dict[int, dict[str, Any]]) -> list[str]:
    archive = warehouse.archive
    assert archive is not None
    placed = archive.publications(month)
    done = []
    for staged, version in archive.staged_publications(month).items():
        record = records.get(version)
        if record is not None and version not in placed and _copy_of(staged, record):
            place_archive(staged, staged.with_name(f"v{version}"))
            placed[version] = staged.with_name(f"v{version}")
            done.append(f"archive, {month} v{version}: committed, its copy renamed into place")
        else:
            durable.discard(staged)
            done.append(f"archive, {month} v{version}: the copy of a version never committed, removed")
    for version in sorted(set(records) - set(placed)):
        final = archive.publication_folder(month) / f"v{version}"
        place_archive(
            archive.stage_publication(month, version, warehouse.publication_frames(month, version)), final
        )
        done.append(f"archive, {month} v{version}: it had no copy; archived from the warehouse")
    return done


def _heal_exports(
    warehouse: Warehouse, exports_dir: Path, month: Month, records: dict[int, dict[str, Any]]
) -> list[str]:
    folder = exports_dir / str(month)
    placed, staged_folders = versions_in(folder)
    done = []
    for staged, version in staged_folders.items():
        record = records.get(version)
        if (
            record is not None
            and version not in placed
            and manifest_sha256(staged) == record["manifest_sha256"]
        ):
            place_export(staged, folder / f"v{version}")
            placed[version] = folder / f"v{version}"
            done.append(f"exports/{month}/v{version}: committed, renamed into place")
        else:
            durable.discard(staged)
            done.append(f"exports/{month}/{staged.name}: staged for a version never committed, removed")
    for version in sorted(set(placed) - set(records)):
        aside = folder / f"orphaned-v{version}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        os.rename(placed[version], aside)
        durable.sync_folder(folder)
        done.append(
            f"exports/{month}/v{version}: no such version was committed (a publication killed before its "
            f"commit); moved aside to exports/{month}/{aside.name}"
        )
    for version in sorted(set(records) - set(placed)):
        done.append(_export_again(warehouse, exports_dir, month, records[version]))
    return done


def _export_again(warehouse: Warehouse, exports_dir: Path, month: Month, record: dict[str, Any]) -> str:
    """Regenerate a committed version's lost export from its rows and record, placed only if byte-identical."""
    version = int(record["version"])
    rows = published_index(warehouse, month, version).select(*CONTENT_COLUMNS, "month", "version", "run_id")
    exported = {key: value for key, value in record.items() if key != "manifest_sha256"}
    for dictionary in (True, False):  # a version exported before the data dictionary has none
        staged = stage_export(exports_dir, month, version, rows, exported, dictionary=dictionary)
        if record["manifest_sha256"] and manifest_sha256(staged) == record["manifest_sha256"]:
            place_export(staged, exports_dir / str(month) / f"v{version}")
            return f"exports/{month}/v{version}: was missing; exported again, byte for byte as published"
        durable.discard(staged)
    return (
        f"exports/{month}/v{version} is missing and cannot be regenerated byte for byte: restore it from a "
        f"copy (its manifest.json has sha256 {record['manifest_sha256']})"
    )


def _copy_of(staged: Path, record: dict[str, Any]) -> bool:
    """Whether a staged archive copy is the committed version's (the same manifest sha256)."""
    publications = staged / "publish.publications.parquet"
    if not publications.exists():
        return False
    try:
        copied = pl.read_parquet(publications, columns=["manifest_sha256"])["manifest_sha256"].to_list()
    except (OSError, pl.exceptions.PolarsError):
        return False
    return copied == [record["manifest_sha256"]]


def _months_in(exports_dir: Path) -> list[Month]:
    months = []
    for folder in sorted(exports_dir.glob("*")) if exports_dir.exists() else []:
        try:
            months.append(Month.parse(folder.name))
        except ValueError:
            continue
    return months
