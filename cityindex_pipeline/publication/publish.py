"""Publication: an immutable, versioned copy of a month's index, with what it was made from.

A month is published as version 1, 2, ...; a version is never changed or deleted. Re-running a month
whose numbers, inputs and methodology are unchanged publishes nothing new; otherwise the run publishes
the next version, with a reason, beside the old ones. Each version records the methodology and code
versions, a fingerprint of its inputs (the raw documents' sha256s and the panel's scores), the run, the
time, the checks and any override; and is exported once to `exports/<YYYY-MM>/v<N>/` (Parquet, CSV,
JSON, a data dictionary of the columns and a manifest of sha256 checksums), never over an existing one.

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

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.publication.files import manifest_sha256, place_archive, place_export, stage_export
from cityindex_pipeline.publication.heal import heal_publications
from cityindex_pipeline.publication.records import (
    GateRecord,
    Provenance,
    changes_since,
    content_sha256,
    default_reason,
)
from cityindex_pipeline.warehouse import durable
from cityindex_pipeline.warehouse.store import Warehouse, utc_now

PUBLISH_STEPS = ("stage_export", "stage_archive", "commit", "place_archive", "place_export")
"""The steps of publishing, in order (see the module's docstring); the commit is the commit point."""
LOGGER = logging.getLogger("cityindex.publication")


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
        record["manifest_sha256"] = manifest_sha256(staged_export)
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
