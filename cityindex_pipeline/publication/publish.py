"""Publication: an immutable, versioned copy of a month's index, with what it was made from.

A month is published as version 1, 2, ...; a version is never changed or deleted. Re-running a month
whose numbers, inputs and methodology are unchanged publishes nothing new; otherwise the run publishes
the next version, with a reason, beside the old ones. Each version records the methodology and code
versions, a fingerprint of its inputs (the raw documents' sha256s and the panel's scores), the run, the
time, the checks and any override; and is exported once to `exports/<YYYY-MM>/v<N>/` (Parquet, CSV,
JSON and a manifest of sha256 checksums), never over an existing one.

Publishing spans two stores, the warehouse and the files (the export, and the archive's copy of the
version), with one commit point, the warehouse's commit of the version's rows. Its steps, in order:

1. `stage_export`: the export's files and manifest are written to `exports/<m>/.v<N>.staged-<token>/`
   and flushed to the disk;
2. `stage_archive`, inside the version's transaction: every publish.* table's rows of the version and
   the month's inputs are written to `archive/publications/<m>/.v<N>.staged-<token>/` and flushed;
3. `commit`: the rows are committed. From this instant the version is published;
4. `place_archive`, 5. `place_export`: each staged folder is renamed to `v<N>`, the rename flushed.

`heal_publications` runs before every publication, in `cityindex verify` and in `cityindex rebuild`,
and finishes or undoes what a kill or a full disk left between two steps:

- a staged folder of a committed version that has no `v<N>` yet is renamed in (rolled forward);
- a staged folder of a version never committed is removed: it was never published (rolled back);
- an export `v<N>` of a version never committed (a kill under the protocol before this one, which
  renamed before committing) is moved aside to `exports/<m>/orphaned-v<N>-<time>/`, kept, and no longer
  blocks the month; but if the archive holds that version, the warehouse is not the one it was
  published in, and the heal refuses, naming `cityindex rebuild`;
- a committed version without an export or a staged copy is exported again only if the regenerated
  manifest hashes to the recorded `manifest_sha256` (then every file is byte-identical); else reported;
- a committed version without its archive copy (a home older than the archive) is archived.

What readers can rely on: an `exports/<m>/v<N>/` folder exists only for a committed version, whole and
flushed; a committed version has its export and its archive copy once the run that published it
ended, or, if that run died, once the next publication of the month, `verify` or `rebuild` healed it.
The publisher holds the warehouse's single-writer lock from its heal to its last rename, so no other
process opens the warehouse between the commit and the renames. Names that begin with a dot are
staging and never to be read; `orphaned-*` folders are kept for a person to look at.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from cityindex_pipeline.core.fingerprint import document_lines
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.warehouse import durable
from cityindex_pipeline.warehouse.archive import versions_in
from cityindex_pipeline.warehouse.store import Warehouse, utc_now

EXPORT_FILES = ("index.parquet", "index.csv", "index.json", "publication.json")
MANIFEST = "manifest.json"
PUBLISH_STEPS = ("stage_export", "stage_archive", "commit", "place_archive", "place_export")
"""The steps of publishing, in order (see the module's docstring); the commit is the commit point."""
LOGGER = logging.getLogger("cityindex.publication")


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
    healed: list[str] = field(default_factory=list)
    """What the heal before this publication finished or undid (see `heal_publications`)."""


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
    can be recomputed later from exactly those. First heals what an earlier publication of the month
    left half done."""
    gate = gate or GateRecord()
    digest = content_sha256(rows)
    with warehouse.session():  # the single-writer lock, from the heal to the last rename
        healed = heal_publications(warehouse, exports_dir, [month])
        for line in healed:
            LOGGER.warning("%s", line)
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
                healed=healed,
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
        staged_export = stage_export(exports_dir, month, version, published, record)
        record["manifest_sha256"] = _manifest_sha256(staged_export)
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
        try:
            staged_copy = commit(warehouse, record, published, panel, pinned)
        except BaseException:
            durable.discard(staged_export)  # not committed: never published
            raise
        # committed: a failure from here on leaves staged folders that the next heal renames in
        if staged_copy is not None:
            place_archive(staged_copy, staged_copy.with_name(f"v{version}"))
        place_export(staged_export, final)
    return Publication(
        month,
        version,
        digest,
        created=True,
        reason=record["reason"],
        export_dir=final,
        record=record,
        healed=healed,
    )


def stage_export(
    exports_dir: Path, month: Month, version: int, rows: pl.DataFrame, record: dict[str, Any]
) -> Path:
    """Step 1: write a version's files and their manifest to a staging folder beside their final
    place, each flushed to the disk. Refuses if the version's folder exists (never overwrite)."""
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


def commit(
    warehouse: Warehouse,
    record: dict[str, Any],
    rows: pl.DataFrame,
    panel: pl.DataFrame | None,
    previous_inputs: pl.DataFrame | None = None,
) -> Path | None:
    """Steps 2 and 3: the version's rows inserted, the archive's copy of them staged, and the rows
    committed, in one transaction: the commit point. Returns the staged archive copy."""
    return warehouse.publish(record, rows, qualitative=panel, previous_inputs=previous_inputs)


def place_archive(staged: Path, final: Path) -> None:
    """Step 4: the archive's copy of a committed version renamed into place, the rename flushed."""
    durable.rename_into_place(staged, final)


def place_export(staged: Path, final: Path) -> None:
    """Step 5: the export of a committed version renamed into place, the rename flushed."""
    durable.rename_into_place(staged, final)


def heal_publications(
    warehouse: Warehouse, exports_dir: Path, months: list[Month] | None = None
) -> list[str]:
    """Finish or undo what a kill or a full disk left between two steps of publishing, for the given
    months (default: every month with an export, an archived or a committed publication); returns a
    line per thing done. Refuses, changing nothing, when the archive holds versions the warehouse lacks."""
    archive = warehouse.archive
    if months is None:
        found = {
            Month.of(day)
            for day in warehouse.query("SELECT DISTINCT month FROM publish.publications")["month"]
        }
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
            and _manifest_sha256(staged) == record["manifest_sha256"]
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
    rows = (
        warehouse.query(
            "SELECT * FROM publish.index WHERE month = $month AND version = $version",
            {"month": month.first_day, "version": version},
        )
        .select(*CONTENT_COLUMNS, "month", "version", "run_id")
        .sort("rank", "city_id")
    )
    exported = {key: value for key, value in record.items() if key != "manifest_sha256"}
    staged = stage_export(exports_dir, month, version, rows, exported)
    if record["manifest_sha256"] and _manifest_sha256(staged) == record["manifest_sha256"]:
        place_export(staged, exports_dir / str(month) / f"v{version}")
        return f"exports/{month}/v{version}: was missing; exported again, byte for byte as published"
    durable.discard(staged)
    return (
        f"exports/{month}/v{version} is missing and cannot be regenerated byte for byte: restore it from a "
        f"copy (its manifest.json has sha256 {record['manifest_sha256']})"
    )


def _manifest_sha256(folder: Path) -> str | None:
    manifest = folder / MANIFEST
    return hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists() else None


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


def _json_text(value: object, indent: int) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default) + "\n").encode(
        "utf-8"
    )


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
