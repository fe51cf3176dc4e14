"""Publication: an immutable, versioned copy of a month's index, with what it was made from.

A month is published as version 1, 2, ...; a version is never changed or deleted. Re-running a month
whose numbers, inputs and methodology are unchanged publishes nothing new; otherwise the run publishes
the next version, with a reason, beside the old ones. Each version records the methodology and code
versions, a fingerprint of its inputs (the raw documents' sha256s and the panel's scores), the run, the
time, the checks and any override; and is exported once to `exports/<YYYY-MM>/v<N>/` (Parquet, CSV,
JSON and a manifest of sha256 checksums), written to a temporary folder and renamed into place, never
over an existing one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from cityindex_pipeline import PLATFORMS
from cityindex_pipeline.fingerprint import document_lines
from cityindex_pipeline.months import Month
from cityindex_pipeline.warehouse import Warehouse, utc_now

EXPORT_FILES = ("index.parquet", "index.csv", "index.json", "publication.json")
MANIFEST = "manifest.json"


class PublicationError(RuntimeError):
    """A publication cannot be made without rewriting one that exists; the message says which."""


CONTENT_COLUMNS = (
    "city_id", "name_en", "name_zh", "rank", "score", "quantitative_score", "qualitative_score",
    *(f"{p}_score" for p in PLATFORMS), "previous_rank", "rank_change", "score_change",
    "median_rank", "rank_p05", "rank_p95", "rank_robust",
)  # fmt: skip


@dataclass(frozen=True)
class Publication:
    month: Month
    version: int
    content_sha256: str
    created: bool
    reason: str = ""
    export_dir: Path | None = None
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Provenance:
    """What a publication was made from and by, beside its numbers."""

    methodology_version: str
    registry_version: str
    pull_ids: list[str]
    inputs_sha256: str
    raw_documents: int
    qualitative_sha256: str
    code_version: str
    previous_version: int | None = None
    """The published version of the previous month whose rows month-on-month change used (None: the
    previous month is unpublished, or its rows are not those of any of its publications)."""
    previous_inputs_sha256: str | None = None
    """Fingerprint of the previous month's rows that were used (`previous_month.inputs_sha256`)."""


@dataclass(frozen=True)
class GateRecord:
    """The checks of the run that published, as the publication records them."""

    passed: int = 0
    warnings: list[str] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)
    override_reason: str = ""


def publication_rows(
    comprehensive: pl.DataFrame,
    platform_scores: pl.DataFrame,
    cities: pl.DataFrame,
    uncertainty: pl.DataFrame,
) -> pl.DataFrame:
    """The published table: rank and its 5-95 % interval, score, its two parts, each platform's score
    (null: no account there)."""
    per_platform = platform_scores.select("city_id", pl.col("platform") + "_score", "score").pivot(
        on="platform", index="city_id", values="score"
    )
    for platform in PLATFORMS:
        if f"{platform}_score" not in per_platform.columns:
            per_platform = per_platform.with_columns(pl.lit(None, pl.Float64).alias(f"{platform}_score"))
    return (
        comprehensive.join(cities.select("city_id", "name_en", "name_zh"), on="city_id", how="left")
        .join(per_platform, on="city_id", how="left")
        .join(
            uncertainty.select(
                "city_id", "median_rank", "rank_p05", "rank_p95", pl.col("robust").alias("rank_robust")
            ),
            on="city_id",
            how="left",
        )
        .select(CONTENT_COLUMNS)
        .sort("rank", "city_id")
    )


def content_sha256(rows: pl.DataFrame) -> str:
    """A digest of the published numbers (full precision), independent of run ids and times."""
    canonical = rows.select(CONTENT_COLUMNS).sort("city_id").write_csv(float_precision=17)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def inputs_fingerprint(documents: pl.DataFrame, qualitative: pl.DataFrame) -> tuple[str, str]:
    """(sha256 over the raw documents' sha256s, sha256 of the panel's scores): what the numbers came
    from, independent of when and by which run they were pulled."""
    lines = document_lines(documents)
    panel = (
        qualitative.select("city_id", "rater", "criterion", "score", "source")
        .sort("city_id", "rater", "criterion")
        .write_csv(float_precision=17)
    )
    qualitative_sha256 = hashlib.sha256(panel.encode("utf-8")).hexdigest()
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8") + b"\n")
    digest.update(b"qualitative|" + qualitative_sha256.encode("ascii"))
    return digest.hexdigest(), qualitative_sha256


def code_version(package_dir: Path | None = None) -> str:
    """`cityindex <version>, commit <sha>` (with `+uncommitted` for a dirty checkout), or `..., unknown
    commit` outside a git checkout or without git: never an error."""
    try:
        version = metadata.version("cityindex")
    except metadata.PackageNotFoundError:
        version = "unknown version"
    where = package_dir or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"cityindex {version}, unknown commit"
    if len(commit) != 40:
        return f"cityindex {version}, unknown commit"
    return f"cityindex {version}, commit {commit}{'+uncommitted' if dirty else ''}"


def changes_since(latest: dict[str, Any] | None, digest: str, provenance: Provenance) -> list[str]:
    """What differs from the latest version: numbers, inputs, methodology (empty: nothing to publish)."""
    if latest is None:
        return ["first publication"]
    changed = []
    if latest["content_sha256"] != digest:
        changed.append("numbers")
    if latest.get("inputs_sha256") != provenance.inputs_sha256:
        changed.append("inputs")
    if latest["methodology_version"] != provenance.methodology_version:
        changed.append(f"methodology {latest['methodology_version']} -> {provenance.methodology_version}")
    pinned_before = latest.get("previous_inputs_sha256")
    if (
        pinned_before
        and provenance.previous_inputs_sha256
        and pinned_before != provenance.previous_inputs_sha256
    ):
        changed.append("previous month")
    return changed


def default_reason(changed: list[str]) -> str:
    if changed == ["first publication"]:
        return "first publication"
    if "numbers" in changed:
        return "re-run: numbers changed" + (
            f" ({', '.join(c for c in changed if c != 'numbers')})" if len(changed) > 1 else ""
        )
    return f"re-run: {', '.join(changed)} changed, numbers unchanged"


def publish_month(
    warehouse: Warehouse,
    month: Month,
    run_id: str,
    rows: pl.DataFrame,
    *,
    provenance: Provenance,
    exports_dir: Path,
    gate: GateRecord | None = None,
    reason: str = "",
    qualitative: pl.DataFrame | None = None,
    previous_inputs: pl.DataFrame | None = None,
) -> Publication:
    """Publish the month's rows as the next version if anything changed, and export it; else return the
    latest version unchanged. Never rewrites a version or its export. The panel's scores (`qualitative`,
    rows of idx.qualitative_scores) and the previous month's rows it used (`previous_inputs`, rows of
    publish.previous_inputs without month, version and run id) are kept with the version, so that it
    can be recomputed later from exactly those."""
    gate = gate or GateRecord()
    digest = content_sha256(rows)
    existing = warehouse.publications(month)
    latest = existing.row(-1, named=True) if existing.height else None
    changed = changes_since(latest, digest, provenance)
    if not changed:
        return Publication(
            month,
            int(latest["version"]),
            digest,
            created=False,
            reason=str(latest.get("reason") or ""),
            export_dir=exports_dir / str(month) / f"v{latest['version']}",
            record=latest,
        )
    version = int(existing["version"].max()) + 1 if existing.height else 1
    final = exports_dir / str(month) / f"v{version}"
    record: dict[str, Any] = {
        "month": month.first_day,
        "version": version,
        "run_id": run_id,
        "published_at": utc_now(),
        "content_sha256": digest,
        "methodology_version": provenance.methodology_version,
        "registry_version": provenance.registry_version,
        "pull_ids": sorted(provenance.pull_ids),
        "cities": rows.height,
        "reason": reason.strip() or default_reason(changed),
        "code_version": provenance.code_version,
        "inputs_sha256": provenance.inputs_sha256,
        "raw_documents": provenance.raw_documents,
        "qualitative_sha256": provenance.qualitative_sha256,
        "checks": json.dumps({"passed": gate.passed, "changed": changed}),
        "warnings": json.dumps(gate.warnings),
        "override_reason": gate.override_reason or None,
        "overridden_checks": list(gate.overridden),
        "export_dir": f"{month}/v{version}",
        "previous_version": provenance.previous_version,
        "previous_inputs_sha256": provenance.previous_inputs_sha256,
    }
    published = rows.with_columns(
        pl.lit(month.first_day).alias("month"),
        pl.lit(version).alias("version"),
        pl.lit(run_id).alias("run_id"),
    )
    staging = stage_export(exports_dir, month, version, published, record)
    record["manifest_sha256"] = hashlib.sha256((staging / MANIFEST).read_bytes()).hexdigest()
    try:
        panel = None
        if qualitative is not None:
            panel = qualitative.with_columns(pl.lit(version).alias("version"), pl.lit(run_id).alias("run_id"))
        pinned = None
        if previous_inputs is not None:
            pinned = previous_inputs.with_columns(
                pl.lit(month.first_day).alias("month"),
                pl.lit(version).alias("version"),
                pl.lit(run_id).alias("run_id"),
            )
        warehouse.publish(
            record,
            published,
            before_commit=lambda: move_into_place(staging, final),
            qualitative=panel,
            previous_inputs=pinned,
        )
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return Publication(
        month, version, digest, created=True, reason=record["reason"], export_dir=final, record=record
    )


def stage_export(
    exports_dir: Path, month: Month, version: int, rows: pl.DataFrame, record: dict[str, Any]
) -> Path:
    """Write a version's files and their manifest to a temporary folder beside their final place."""
    final = exports_dir / str(month) / f"v{version}"
    if final.exists():
        raise PublicationError(
            f"{final.name} of {month} is already exported at exports/{month}/{final.name}: a published "
            "version is never rewritten (remove the stray folder only if publish.publications has no such version)"
        )
    staging = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    rows.write_parquet(staging / "index.parquet")
    rows.write_csv(staging / "index.csv")
    (staging / "index.json").write_text(
        json.dumps(rows.to_dicts(), ensure_ascii=False, indent=1, default=_json_default) + "\n",
        encoding="utf-8",
    )
    (staging / "publication.json").write_text(
        json.dumps(record, ensure_ascii=False, indent=1, default=_json_default) + "\n", encoding="utf-8"
    )
    manifest = {
        "month": str(month),
        "version": version,
        "files": {
            name: {
                "sha256": hashlib.sha256((staging / name).read_bytes()).hexdigest(),
                "bytes": (staging / name).stat().st_size,
            }
            for name in EXPORT_FILES
        },
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    for name in (*EXPORT_FILES, MANIFEST):
        (staging / name).chmod(0o444)
    return staging


def move_into_place(staging: Path, final: Path) -> None:
    """Rename the staged folder to its final name, refusing if that name exists (never overwrite)."""
    if final.exists():
        raise PublicationError(
            f"exports/{final.parent.name}/{final.name} exists: a published version is never rewritten"
        )
    os.rename(staging, final)


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
    rows = warehouse.query(
        "SELECT * FROM publish.index WHERE month = $month AND version = $version",
        {"month": month.first_day, "version": record["version"]},
    )
    if content_sha256(rows) != record["content_sha256"]:
        problems.append("publish.index rows differ from the published digest")
    return problems


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
