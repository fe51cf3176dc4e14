"""Whether a published version is intact: its export against its manifest, and the numbers of its
export and of its warehouse rows against the digest it was published with."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.publication.files import MANIFEST
from cityindex_pipeline.publication.records import content_sha256
from cityindex_pipeline.warehouse.publication_tables import published_index
from cityindex_pipeline.warehouse.store import Warehouse


def verify_export(export_dir: Path) -> list[str]:
    """Files of an export whose sha256 or size differs from its manifest (empty: intact)."""
    manifest = json.loads((export_dir / MANIFEST).read_text(encoding="utf-8"))
    problems = []
    for name, expected in manifest["files"].items():
        path = export_dir / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != expected["sha256"]:
            problems.append(f"{name}: sha256 differs from the manifest")
    return problems


def verify_publication(
    warehouse: Warehouse, exports_dir: Path, month: Month, record: dict[str, Any]
) -> list[str]:
    """What is wrong with a published version (empty: intact): its export against its manifest and the
    manifest's recorded sha256, and the numbers of its export and of its warehouse rows against the
    recorded content digest."""
    folder = exports_dir / str(month) / f"v{record['version']}"
    if not (folder / MANIFEST).exists():
        return [f"no export at exports/{month}/{folder.name}"]
    problems = verify_export(folder)
    manifest_sha256 = hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()
    if record.get("manifest_sha256") and manifest_sha256 != record["manifest_sha256"]:
        problems.append("manifest.json differs from the one published")
    if (folder / "index.parquet").exists() and content_sha256(
        pl.read_parquet(folder / "index.parquet")
    ) != record["content_sha256"]:
        problems.append("index.parquet numbers differ from the published digest")
    rows = published_index(warehouse, month, int(record["version"]))
    if content_sha256(rows) != record["content_sha256"]:
        problems.append("publish.index rows differ from the published digest")
    return problems
