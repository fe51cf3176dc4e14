"""Recompute a publication from what it recorded, in memory, and compare.

A publication records the pulls it was made from, the registry and methodology versions, and (from
the versions that snapshot them) the panel's scores and the previous month's rows that month-on-month
features read (`previous_month.py`). `recompute` checks every recorded raw document's sha256 against
its stored text; reads exactly those inputs, in one snapshot of the warehouse; computes the month
again with the domain functions the monthly job's assets call (`recompute.py`), with the
methodology version the publication recorded and no check run; and compares the result with the
published rows, number by number. Later months, a newer methodology or a re-pull of the month do
not change the answer: only the recorded inputs are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.method.config import MethodologyError, load_methodology
from cityindex_pipeline.parsing.document import VERDICT_COLUMNS
from cityindex_pipeline.publication.previous_month import PREVIOUS_MONTH_TABLES, pinned_with
from cityindex_pipeline.publication.records import (
    CONTENT_COLUMNS,
    content_sha256,
    inputs_fingerprint,
)
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.tables import MONTH_INPUTS
from cityindex_pipeline.warehouse.verify_reads import (
    months_pulled_complete,
    panel_snapshot,
    publication_history,
    published_rows,
    pull_documents,
    pull_ids,
    pull_platforms,
    tampered_documents,
)

from .recompute import RecordedInputs, recompute_publication

TOLERANCE = 1e-9
DIFFERENCES_SHOWN = 10
MONTH_INPUT_TABLES = (*MONTH_INPUTS, "idx.qualitative_scores")
"""The month's inputs a recompute reads beside the pulls: the month's snapshots and the panel's
scores (a rebuild restores them from the archive)."""


@dataclass(frozen=True)
class RecomputedAssets:
    """What `rebuild` runs, by asset name: the wiring derives it from the asset graph."""

    month_inputs: tuple[str, ...]
    """What writes the month's inputs (`MONTH_INPUT_TABLES`): restored from a published month's
    archive copy, computed again (from the registry files and the panel) only for months never
    published."""
    computed: tuple[str, ...]
    """What the monthly job computes between the raw pulls and the publication."""
    publication: str


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


def recompute(warehouse: Warehouse, month: Month, version: int | None) -> Verification:
    """Recompute publication `version` (the latest by default) of `month` in memory from what it
    recorded, after checking every recorded body against its sha256, and compare."""
    record = _record(warehouse, month, version)
    recorded_pulls = sorted(record["pull_ids"])
    if missing := sorted(set(recorded_pulls) - pull_ids(warehouse)):
        raise VerifyError(
            f"the pulls {', '.join(missing)} recorded by v{record['version']} are not in the warehouse"
        )
    with warehouse.snapshot():
        notes: list[str] = []
        documents = warehouse.document_keys(recorded_pulls)
        tampered = tampered_documents(warehouse, recorded_pulls)
        inputs = recorded_inputs(warehouse, month, recorded_pulls, record, notes)
    inputs_sha256, qualitative_sha256 = inputs_fingerprint(documents, inputs.qualitative_scores)
    if record.get("inputs_sha256") and inputs_sha256 != record["inputs_sha256"]:
        notes.append("the inputs' fingerprint differs from the one recorded: documents or panel changed")
    if record.get("qualitative_sha256") and qualitative_sha256 != record["qualitative_sha256"]:
        notes.append("the panel's scores differ from those the publication recorded")
    published = published_rows(warehouse, month, record["version"]).select(CONTENT_COLUMNS).sort("city_id")
    try:
        methodology = load_methodology(str(record["methodology_version"]).strip() or None)
    except MethodologyError as error:
        raise VerifyError(
            f"v{record['version']} of {month} was made with methodology {record['methodology_version']}, "
            f"which cannot be loaded: {error}"
        ) from None
    try:
        recomputed_rows = recompute_publication(inputs, month, methodology).select(CONTENT_COLUMNS)
    except (ValueError, pl.exceptions.PolarsError) as error:
        notes.append(f"the recomputation stopped: {error}")
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


def recorded_inputs(
    warehouse: Warehouse, month: Month, recorded_pulls: list[str], record: dict[str, Any], notes: list[str]
) -> RecordedInputs:
    """What publication `record` of `month` was made from, as `recompute_publication` takes it (notes
    added on what differs from the record). The recorded pulls' documents (verdicts cleared: every body is judged again, no stored verdict
    trusted), the month's snapshots, the panel's and the previous month's rows as recorded."""
    platform_of = pull_platforms(warehouse, recorded_pulls)
    empty = pull_documents(warehouse, None)
    documents = {platform: empty for platform in PLATFORMS}
    for pull_id, platform in platform_of.items():
        documents[platform] = pull_documents(warehouse, pull_id).with_columns(
            pl.lit(None, pl.String).alias(column) for column in VERDICT_COLUMNS
        )
    registry_cities, registry_accounts, platform_reference = (
        warehouse.read_month(table, month) for table in MONTH_INPUTS
    )
    if registry_cities.height and registry_cities["registry_version"][0] != record["registry_version"]:
        notes.append(
            f"the month's registry snapshot is {registry_cities['registry_version'][0][:12]}, "
            f"the publication recorded {record['registry_version'][:12]}"
        )
    return RecordedInputs(
        documents=documents,
        registry_cities=registry_cities,
        registry_accounts=registry_accounts,
        platform_reference=platform_reference,
        qualitative_scores=_panel(warehouse, month, record, notes),
        previous=_previous_month(warehouse, month, record, notes),
    )


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
