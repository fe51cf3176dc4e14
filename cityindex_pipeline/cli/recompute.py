"""The recompute behind `cityindex verify` and `cityindex rebuild`, wired: which assets a rebuild
runs, derived from the asset graph; `verify_month`, the heal, the exports' check and the in-memory
recompute (`audit.verify.recompute`) of a version."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from cityindex_pipeline.audit import verify
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.defs.catalog import WAREHOUSE_TABLES
from cityindex_pipeline.publication.heal import heal_publications
from cityindex_pipeline.publication.integrity import verify_publication
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.verify_reads import PULL_TABLES

PUBLICATION = "published_index"


@functools.cache
def recomputed_assets() -> verify.RecomputedAssets:
    """From the asset graph: the month's inputs are the assets writing the tables a recompute restores
    (`verify.MONTH_INPUT_TABLES`), the raw pulls those writing the pulls' tables; the assets computed
    again are every other asset upstream of the publication."""
    from assets import all_assets

    def writing(tables: tuple[str, ...]) -> list[str]:
        return sorted(asset for asset, written in WAREHOUSE_TABLES.items() if set(written) <= set(tables))

    month_inputs, pulls = writing(verify.MONTH_INPUT_TABLES), writing(PULL_TABLES)
    publication = dg.AssetSelection.assets(PUBLICATION)
    computed = publication.upstream() - publication - dg.AssetSelection.assets(*month_inputs, *pulls)
    return verify.RecomputedAssets(
        month_inputs=tuple(month_inputs),
        computed=tuple(sorted(key.to_user_string() for key in computed.resolve(all_assets))),
        publication=PUBLICATION,
    )


def months_to_compute(warehouse: Warehouse) -> list[verify.MonthToCompute]:
    """`audit.verify.months_to_compute` with the assets of the graph (what `cityindex rebuild` runs)."""
    return verify.months_to_compute(warehouse, recomputed_assets())


@dataclass(frozen=True)
class MonthVerified:
    """What `cityindex verify` found: each step's result, for the command to print (or a bench to time)."""

    healed: list[str]
    """Publications the heal finished or set aside before anything was read."""
    checked: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)
    """Each published version's record, with the problems of its export and manifest (none: intact)."""
    verification: verify.Verification | None = None
    refused: str = ""
    """Why the version asked for could not be recomputed (`VerifyError`), or ""."""


def verify_month(
    settings: Settings, warehouse: Warehouse, month: Month, version: int | None
) -> MonthVerified:
    """Heal the month's publications, check every version against its export, then recompute
    `version` (the latest by default) in memory. Raises `PublicationError` from the
    heal; returns with nothing checked when the month has no publication."""
    with warehouse.session():  # the writer's lock: no publication is half done while this heals
        healed = heal_publications(warehouse, settings.exports_dir, [month])
    publications = warehouse.publications(month)
    if publications.height == 0:
        return MonthVerified(healed)
    checked = [
        (record, verify_publication(warehouse, settings.exports_dir, month, record))
        for record in publications.iter_rows(named=True)
    ]
    try:
        verification = recompute(warehouse, month, version)
    except verify.VerifyError as error:
        return MonthVerified(healed, checked, refused=str(error))
    return MonthVerified(healed, checked, verification)


def recompute(warehouse: Warehouse, month: Month, version: int | None) -> verify.Verification:
    """Recompute publication `version` (the latest by default) of `month` from what it recorded."""
    return verify.recompute(warehouse, month, version)
