"""The files of a version: its export (Parquet, CSV, JSON, the record, a data dictionary of its columns
and a manifest of sha256s) staged beside its final folder and flushed, then each staged folder, the
export's and the archive copy's, renamed into place."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.publication.records import PublicationError
from cityindex_pipeline.warehouse import durable
from cityindex_pipeline.warehouse.tables import described_columns

DICTIONARY = "dictionary.csv"
"""The exported columns: name, type, nullable and description, from the warehouse's declaration."""
EXPORT_FILES = ("index.parquet", "index.csv", "index.json", "publication.json", DICTIONARY)
MANIFEST = "manifest.json"


def stage_export(
    exports_dir: Path,
    month: Month,
    version: int,
    rows: pl.DataFrame,
    record: dict[str, Any],
    *,
    dictionary: bool = True,
) -> Path:
    """Step 1: write a version's files and their manifest to a staging folder beside their final
    place, each flushed to the disk. Refuses if the version's folder exists (never overwrite).
    `dictionary=False` leaves out the data dictionary, as versions exported before it were."""
    final = exports_dir / str(month) / f"v{version}"
    if final.exists():
        raise PublicationError(
            f"{final.name} of {month} is already exported at exports/{month}/{final.name}: a published "
            "version is never rewritten (remove the stray folder only if publish.publications has no such version)"
        )
    parquet = io.BytesIO()
    rows.write_parquet(parquet)
    files = {
        "index.parquet": parquet.getvalue(),
        "index.csv": rows.write_csv().encode("utf-8"),
        "index.json": _json_text(rows.to_dicts(), indent=1),
        "publication.json": _json_text(record, indent=1),
    }
    if dictionary:
        files[DICTIONARY] = data_dictionary(rows.columns)
    manifest = {
        "month": str(month),
        "version": version,
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in files.items()
        },
    }
    files[MANIFEST] = (json.dumps(manifest, indent=1) + "\n").encode("utf-8")
    staged = durable.staging_folder(final)
    try:
        for name, data in files.items():
            durable.write_file(staged / name, data)
        durable.sync_folder(staged)
    except BaseException:
        durable.discard(staged)
        raise
    return staged


def place_archive(staged: Path, final: Path) -> None:
    """Step 4: the archive's copy of a committed version renamed into place, the rename flushed."""
    durable.rename_into_place(staged, final)


def place_export(staged: Path, final: Path) -> None:
    """Step 5: the export of a committed version renamed into place, the rename flushed."""
    durable.rename_into_place(staged, final)


def manifest_sha256(folder: Path) -> str | None:
    manifest = folder / MANIFEST
    return hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists() else None


def data_dictionary(columns: list[str]) -> bytes:
    """The exported columns as publish.index declares them: a CSV of column, type (DuckDB's), nullable
    and description. Outside the content digest: a description changes no number."""
    described = described_columns("publish.index", columns)
    return (
        pl.DataFrame(
            {
                "column": [column.name for column in described],
                "type": [column.type.sql for column in described],
                "nullable": ["yes" if column.null else "no" for column in described],
                "description": [column.doc for column in described],
            }
        )
        .write_csv()
        .encode("utf-8")
    )


def _json_text(value: object, indent: int) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default) + "\n").encode(
        "utf-8"
    )


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
