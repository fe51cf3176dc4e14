"""Re-publish a month when its expert-panel file changes after the month was published.

The sensor reads the Dagster instance (which months have a published_index materialisation) and
the panel files; it never opens the warehouse, so it cannot wait on DuckDB's writer lock.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph  # not re-exported

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.defs.jobs import monthly_index_job
from cityindex_pipeline.defs.resources import SourceResource
from cityindex_pipeline.method.panel import PANEL_FOLDER
from cityindex_pipeline.sources.landing import month_named
from cityindex_pipeline.sources.landing_tree import Kind, LandingEntryError, LandingFile, LandingTree

PUBLISHED = dg.AssetKey("published_index")
REPUBLISHED = dg.AssetSelection.assets("qualitative_scores").downstream()
"""What a panel change runs again: the panel's scores and everything below them, with their checks.
The platforms are not pulled again, so the new version differs from the old one by the panel only;
the gate takes the unchanged layers' checks from the month's earlier run."""


def republished_keys(
    graph: AssetGraph,
) -> tuple[list[dg.AssetKey], list[dg.AssetCheckKey]]:
    """`REPUBLISHED` resolved on the code location's graph (the sensor's own repository)."""
    return sorted(REPUBLISHED.resolve(graph)), sorted(REPUBLISHED.resolve_checks(graph))


def panel_files(landing_dir: Path) -> dict[Month, LandingFile]:
    """`landing/qualitative/<YYYY-MM>.csv` by month, read as every landing file is (regular files
    only, never through a link); other names are ignored, and a month whose panel is not a regular
    file is left to its run, which refuses it by name."""
    files = {}
    try:
        folder = LandingTree(landing_dir).open(PANEL_FOLDER)
    except LandingEntryError:
        return files
    with folder:
        for entry in folder.entries():
            month = month_named(entry.name.removesuffix(".csv")) if entry.name.endswith(".csv") else None
            if month is None or entry.kind is not Kind.FILE:
                continue
            try:
                files[month] = folder.read(entry.name)
            except LandingEntryError:
                continue
    return files


def _published_at(instance: dg.DagsterInstance, month: Month) -> float | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=PUBLISHED, asset_partitions=[month.partition_key]), limit=1
    ).records
    return records[0].timestamp if records else None


@dg.sensor(
    job=monthly_index_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Re-publishes a published month when landing/qualitative/<YYYY-MM>.csv changes: runs "
    "qualitative_scores and everything below it, with their checks, which adds a publication version with "
    "the new panel (the old one stays; the platforms are not pulled again). Once per content change "
    "(sha256 in the cursor).",
)
def qualitative_republish_sensor(
    context: dg.SensorEvaluationContext, source: SourceResource
) -> dg.SensorResult | dg.SkipReason:
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    requests = []
    republished_assets, republished_checks = republished_keys(context.repository_def.asset_graph)
    for month, panel in panel_files(source.landing_path).items():
        digest = hashlib.sha256(panel.content).hexdigest()
        if seen.get(str(month)) == digest:
            continue
        published_at = _published_at(context.instance, month)
        if published_at is None:
            continue  # not published yet: the month's first run reads the file anyway
        first_sight = str(month) not in seen
        seen[str(month)] = digest
        if first_sight and panel.modified_at.timestamp() <= published_at:
            continue  # the file was already in place when the month was published
        requests.append(
            dg.RunRequest(
                run_key=f"qualitative-{month}-{digest}",
                partition_key=month.partition_key,
                asset_selection=republished_assets,
                asset_check_keys=republished_checks,
                tags={"cityindex/qualitative_sha256": digest},
            )
        )
    cursor = json.dumps(seen, sort_keys=True)
    if not requests:
        return dg.SensorResult(skip_reason="no changed panel file of a published month", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
