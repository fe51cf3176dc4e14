"""The recompute behind `cityindex verify`, wired: `audit.verify.recompute` with the run of the
recomputed assets on a scratch home, in this process, on an ephemeral Dagster instance."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from cityindex_pipeline.audit import verify
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.publication.heal import heal_publications
from cityindex_pipeline.publication.integrity import verify_publication
from cityindex_pipeline.warehouse.store import Warehouse


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
    `version` (the latest by default) in a scratch warehouse. Raises `PublicationError` from the
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
        with tempfile.TemporaryDirectory(prefix="cityindex-verify-") as scratch:
            verification = recompute(warehouse, month, version, Path(scratch))
    except verify.VerifyError as error:
        return MonthVerified(healed, checked, refused=str(error))
    return MonthVerified(healed, checked, verification)


def recompute(
    warehouse: Warehouse, month: Month, version: int | None, scratch_dir: Path
) -> verify.Verification:
    """Recompute publication `version` (the latest by default) of `month` in `scratch_dir`."""
    return verify.recompute(warehouse, month, version, scratch_dir, run_recomputed_assets)


def run_recomputed_assets(scratch_dir: Path, month: Month, methodology_version: str) -> bool:
    """The monthly job's assets between the pulls and the publication, on the scratch warehouse."""
    from assets import all_assets
    from checks import all_checks
    from cityindex_pipeline.defs.resources import MethodologyVersion, resources_for

    settings = Settings(home=scratch_dir, source="simulated", seed=0)  # no source is pulled
    resources = {
        **resources_for(settings),
        "methodology_version": MethodologyVersion(version=methodology_version),
    }
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [*all_assets, *all_checks],
            partition_key=month.partition_key,
            resources=resources,
            selection=dg.AssetSelection.assets(*verify.RECOMPUTED_ASSETS),
            instance=instance,
            run_config={
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                # the version's checks were decided when it was published (an override included):
                # here they report but must not stop the recomputation of what was published
                "resources": {"publish_options": {"config": {"override_errors": verify.RECOMPUTING}}},
            },
            raise_on_error=False,
        )
    return result.success
