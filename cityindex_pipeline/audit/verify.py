"""Recompute a publication from what it recorded, in a scratch warehouse, and compare.

A publication records the pulls it was made from, the registry and methodology versions, and (from
the versions that snapshot them) the panel's scores and the previous month's rows that month-on-month
features read (`previous_month.py`). `recompute` copies exactly those inputs into a scratch warehouse; checks
every raw document's sha256 against its stored text; runs the same assets the monthly job runs,
with the methodology version the publication recorded; and compares the result with the published
rows, number by number. Later months, a newer methodology or a re-pull of the month do not change
the answer: only the recorded inputs are used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.parsing.document import VERDICT_COLUMNS
from cityindex_pipeline.publication.previous_month import PREVIOUS_MONTH_TABLES, pinned_with
from cityindex_pipeline.publication.records import (
    CONTENT_COLUMNS,
    content_sha256,
    inputs_fingerprint,
    publication_rows,
)
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.tables import MONTH_INPUTS
from cityindex_pipeline.warehouse.verify_reads import (
    PULL_TABLES,
    months_pulled_complete,
    panel_snapshot,
    publication_history,
    published_rows,
    pull_ids,
    pull_rows,
    tampered_documents,
)

TOLERANCE = 1e-9
DIFFERENCES_SHOWN = 10
MONTH_INPUT_TABLES = (*MONTH_INPUTS, "idx.qualitative_scores")
"""The month's inputs a recompute restores beside the pulls (`PULL_TABLES`): the month's snapshots
and the panel's scores."""


@dataclass(frozen=True)
class RecomputedAssets:
    """What a recompute runs, by asset name: the wiring derives it from the asset graph."""

    month_inputs: tuple[str, ...]
    """What writes the month's inputs (`MONTH_INPUT_TABLES`): restored from a published month's
    archive copy, computed again (from the registry files and the panel) only for months never
    published."""
    computed: tuple[str, ...]
    """What the monthly job computes between the raw pulls and the publication."""
    publication: str


RECOMPUTING = "recomputing a published version in a scratch warehouse"


class VerifyError(LookupError):
    """Nothing to verify, or the recorded inputs are no longer all there; the message says which."""


@dataclass(frozen=True)
class Verification:
    month: Month
    version: int
    methodology_version: str
    published_sha256: str
    recomputed_sha256: str | None
    documents: int
    tampered_documents: list[dict[str, Any]] = field(default_factory=list)
    differences: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.tampered_documents and self.published_sha256 == self.recomputed_sha256

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": str(self.month),
            "version": self.version,
            "methodology_version": self.methodology_version,
            "published_sha256": self.published_sha256,
            "recomputed_sha256": self.recomputed_sha256,
            "documents": self.documents,
            "matches": self.matches,
            "tampered_documents": self.tampered_documents,
            "differences": self.differences,
            "notes": self.notes,
        }


RunMonth = Callable[[Path, Month, str], bool]
"""Runs `RecomputedAssets.computed` of a month on the home `scratch_dir` with a methodology version; True
when every step succeeded. The wiring provides it (`cli.runner.run_recomputed_assets`)."""


def recompute(
    warehouse: Warehouse, month: Month, version: int | None, scratch_dir: Path, run_month: RunMonth
) -> Verification:
    """Recompute publication `version` (the latest by default) of `month` in `scratch_dir`."""
    record = _record(warehouse, month, version)
    scratch = Warehouse(scratch_dir / "warehouse.duckdb")
    scratch.ensure_schema()
    recorded_pulls = sorted(record["pull_ids"])
    notes = _copy_inputs(warehouse, scratch, month, recorded_pulls, record)
    documents = scratch.document_keys(recorded_pulls)
    tampered = tampered_documents(scratch)
    inputs_sha256, qualitative_sha256 = inputs_fingerprint(
        documents, scratch.read_month("idx.qualitative_scores", month)
    )
    if record.get("inputs_sha256") and inputs_sha256 != record["inputs_sha256"]:
        notes.append("the inputs' fingerprint differs from the one recorded: documents or panel changed")
    if record.get("qualitative_sha256") and qualitative_sha256 != record["qualitative_sha256"]:
        notes.append("the panel's scores differ from those the publication recorded")
    published = published_rows(warehouse, month, record["version"]).select(CONTENT_COLUMNS).sort("city_id")
    recomputed_rows = (
        _recomputed_rows(scratch_dir, month)
        if run_month(scratch_dir, month, str(record["methodology_version"]))
        else None
    )
    if recomputed_rows is None:
        notes.append("the recomputation stopped at a failed step or check: see the scratch run")
        return Verification(
            month, record["version"], record["methodology_version"], record["content_sha256"], None,
            documents.height, tampered, [], notes,
        )  # fmt: skip
    return Verification(
        month,
        record["version"],
        record["methodology_version"],
        record["content_sha256"],
        content_sha256(recomputed_rows),
        documents.height,
        tampered,
        differences(published, recomputed_rows.sort("city_id")),
        notes,
    )


def differences(published: pl.DataFrame, recomputed: pl.DataFrame) -> list[dict[str, Any]]:
    """The first cells that differ (numbers beyond 1e-9), city by city, column by column."""
    joined = published.join(recomputed, on="city_id", how="full", suffix="_recomputed", coalesce=True)
    found: list[dict[str, Any]] = []
    for row in joined.sort("city_id").iter_rows(named=True):
        for column in CONTENT_COLUMNS:
            if column == "city_id":
                continue
            left, right = row[column], row[f"{column}_recomputed"]
            if _same(left, right):
                continue
            found.append(
                {"city_id": row["city_id"], "column": column, "published": left, "recomputed": right}
            )
            if len(found) == DIFFERENCES_SHOWN:
                return found
    return found


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return abs(left - right) <= TOLERANCE
    return left == right


def _record(warehouse: Warehouse, month: Month, version: int | None) -> dict[str, Any]:
    publications = warehouse.publications(month)
    if publications.height == 0:
        raise VerifyError(f"{month} has not been published")
    versions = [int(v) for v in publications["version"]]
    chosen = max(versions) if version is None else version
    if chosen not in versions:
        raise VerifyError(
            f"{month} has no publication v{chosen}; published: {', '.join(f'v{v}' for v in versions)}"
        )
    return publications.filter(pl.col("version") == chosen).row(0, named=True)


def _copy_inputs(
    warehouse: Warehouse, scratch: Warehouse, month: Month, recorded_pulls: list[str], record: dict[str, Any]
) -> list[str]:
    """The recorded pulls, the month's snapshots and the previous month's tables, copied as they are."""
    notes = []
    for table in PULL_TABLES:
        # a pull at a time: a month's documents at once doubled verify's memory
        for pull_id in recorded_pulls:
            rows = pull_rows(warehouse, table, pull_id)
            if table == "raw.documents":  # the recompute judges every body again, trusting no stored verdict
                rows = rows.with_columns(pl.lit(None, pl.String).alias(c) for c in VERDICT_COLUMNS)
            scratch.append(table, rows)
    if missing := sorted(set(recorded_pulls) - pull_ids(scratch)):
        raise VerifyError(
            f"the pulls {', '.join(missing)} recorded by v{record['version']} are not in the warehouse"
        )
    for table in MONTH_INPUTS:
        scratch.append(table, warehouse.read_month(table, month))
    registry = scratch.read_month("clean.registry_cities", month)
    if registry.height and registry["registry_version"][0] != record["registry_version"]:
        notes.append(
            f"the month's registry snapshot is {registry['registry_version'][0][:12]}, "
            f"the publication recorded {record['registry_version'][:12]}"
        )
    scratch.append("idx.qualitative_scores", _panel(warehouse, month, record, notes))
    for table, rows in _previous_month(warehouse, month, record, notes).items():
        scratch.append(table, rows)
    return notes


def _previous_month(
    warehouse: Warehouse, month: Month, record: dict[str, Any], notes: list[str]
) -> dict[str, pl.DataFrame]:
    """The previous month's rows as the publication pinned them; before pinning, the current ones."""
    pinned = pinned_with(warehouse, month, int(record["version"]))
    if pinned is not None:
        version = record.get("previous_version")
        notes.append(
            f"{month.previous()} as this publication pinned it"
            + (f" (its v{version})" if version else " (rows of no publication of it)")
            + f", fingerprint {str(record.get('previous_inputs_sha256') or '')[:12]}"
        )
        return pinned
    notes.append(f"this publication has no pinned rows of {month.previous()}: its current rows are used")
    return {table: warehouse.read_month(table, month.previous()) for table in PREVIOUS_MONTH_TABLES}


def _panel(warehouse: Warehouse, month: Month, record: dict[str, Any], notes: list[str]) -> pl.DataFrame:
    """The panel's scores as the publication snapshotted them; before snapshots, the month's current ones."""
    snapshot = panel_snapshot(warehouse, month, record["version"])
    if snapshot.height:
        return snapshot
    notes.append("this publication has no snapshot of the panel: the month's current panel scores are used")
    return warehouse.read_month("idx.qualitative_scores", month)


def _recomputed_rows(scratch_dir: Path, month: Month) -> pl.DataFrame:
    """The publication's rows as the scratch run computed them."""
    settings = Settings(home=scratch_dir, source="simulated", seed=0)
    scratch = Warehouse(settings.warehouse_path)
    return publication_rows(
        scratch.read_month("idx.comprehensive_index", month),
        scratch.read_month("idx.platform_index", month),
        scratch.read_month("clean.registry_cities", month),
        scratch.read_month("idx.index_uncertainty", month),
    )


@dataclass(frozen=True)
class MonthToCompute:
    month: Month
    assets: tuple[str, ...]
    """The assets computed again; the raw pulls never are (they come from the archive)."""
    methodology_version: str
    """The methodology its latest publication recorded (or the next published month's); "" = current."""
    override_errors: str = ""
    """The override its latest publication was made with, so that the same checks are passed over."""
    published_versions: tuple[int, ...] = ()


def months_to_compute(warehouse: Warehouse, assets: RecomputedAssets) -> list[MonthToCompute]:
    """Every month with a publication, or with a complete pull of each platform (a later month's
    month-on-month features read it), in month order. A published month is computed with the
    methodology and override of its latest version, from its restored inputs, up to its publication
    (which publishes nothing new if nothing changed); a month never published, from the registry and
    panel as they are now, without publishing it, with the methodology of the next published month."""
    publications = publication_history(warehouse)
    latest = {
        Month.of(row["month"]): row
        for row in publications.iter_rows(named=True)  # ordered by version: the last one stays
    }
    versions: dict[Month, list[int]] = {}
    for row in publications.iter_rows(named=True):
        versions.setdefault(Month.of(row["month"]), []).append(int(row["version"]))
    months = sorted(set(latest) | set(months_pulled_complete(warehouse, len(PLATFORMS))))
    planned = []
    for month in months:
        if month in latest:
            record = latest[month]
            planned.append(
                MonthToCompute(
                    month,
                    (*assets.computed, assets.publication),
                    str(record["methodology_version"]),
                    str(record["override_reason"] or ""),
                    tuple(versions[month]),
                )
            )
            continue
        later = [m for m in latest if m > month]
        methodology = str(latest[min(later)]["methodology_version"]) if later else ""
        planned.append(MonthToCompute(month, (*assets.month_inputs, *assets.computed), methodology))
    return planned
