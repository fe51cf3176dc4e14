"""What the UI tells at a glance about every asset: owner, table, columns, freshness, source code.

Applied to the asset definitions once, in `definitions.py`, so the assets themselves stay paragraphs.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import dagster as dg

from cityindex_pipeline.defs.lineage import COLUMN_LINEAGE
from cityindex_pipeline.warehouse.tables import DECLARED

# Code references are a beta feature of Dagster 1.13, used deliberately: say so once here.
CODE_REFERENCES_BETA = (
    r"(Class|Function) `(CodeReferencesMetadataValue|LocalFileCodeReference|with_source_code_references)`"
)
warnings.filterwarnings("ignore", message=CODE_REFERENCES_BETA, category=dg.BetaWarning)

OWNER = "team:cityindex"

WAREHOUSE_TABLES: dict[str, tuple[str, ...]] = {
    "account_registry": ("clean.registry_cities", "clean.registry_accounts"),
    "platform_reference": ("idx.platform_reference",),
    **{
        f"raw_{platform}": ("raw.documents", "raw.pulls", "raw.pull_accounts", "raw.source_problems")
        for platform in ("facebook", "x", "instagram", "youtube")
    },
    "clean_posts": ("clean.posts", "clean.quarantine"),
    "clean_account_metrics": ("clean.account_metrics",),
    "platform_indicators": ("idx.platform_indicators",),
    **{
        f"platform_index_{platform}": ("idx.platform_index",)
        for platform in ("facebook", "x", "instagram", "youtube")
    },
    "platform_weights": ("idx.platform_weights",),
    "qualitative_scores": ("idx.qualitative_scores",),
    "comprehensive_index": ("idx.comprehensive_index",),
    "index_uncertainty": ("idx.index_uncertainty", "idx.uncertainty_sensitivity"),
    "published_index": ("publish.index", "publish.publications"),
}
"""The DuckDB tables each asset writes, its main table first (`dagster/table_name`)."""


def table_schema(table: str) -> dg.TableSchema:
    """Columns of a warehouse table as declared: type, nullability and what each holds (its `doc`)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=column.name,
                type=column.type.sql,
                description=column.doc,
                constraints=dg.TableColumnConstraints(
                    nullable="NOT NULL" not in column.definition,
                    unique=column.key,
                    other=["PRIMARY KEY"] if column.key else [],
                ),
            )
            for column in DECLARED[table].columns
        ]
    )


def column_lineage(asset: str) -> dg.TableColumnLineage:
    """The asset's columns and the upstream columns each is computed from (`lineage.py`)."""
    return dg.TableColumnLineage(
        deps_by_column={
            column: [
                dg.TableColumnDep(asset_key=dg.AssetKey(upstream), column_name=name)
                for upstream, name in deps
            ]
            for column, deps in COLUMN_LINEAGE[asset].items()
        }
    )


def published_freshness(schedule_day: int) -> dg.FreshnessPolicy:
    """A month is published by the end of the schedule's day of the next month (Beijing time)."""
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"59 23 {schedule_day} * *",
        lower_bound_delta=timedelta(days=schedule_day),
        timezone="Asia/Shanghai",
    )


@functools.cache
def code_fingerprint() -> str:
    """The asset's code version: a digest of every source file of the pipeline (domain, assets, checks,
    methodology files), so that Dagster marks a month stale when the code that computed it changed,
    whether or not it runs from a git checkout."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for folder in ("cityindex_pipeline", "assets", "checks"):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in (".py", ".yaml", ".csv") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


SOURCE_PROVENANCE = {"simulated": "simulated", "files": "vendor-drop", "api": "platform-api"}
"""Where the platforms' documents come from, by `CITYINDEX_SOURCE`, as the assets' `provenance` tag."""

FILE_PROVENANCE = {
    "account_registry": "repository-file",  # cities.csv, accounts.csv: handles and ids labelled verified or not
    "platform_reference": "repository-file",  # platform_reference.csv, platform_users.csv: sourced figures
    "qualitative_scores": "panel-file-or-simulated",  # landing/qualitative/<month>.csv, else simulated scores
}
"""Assets whose data do not come from the platforms' documents, and where they come from instead."""


def provenance_tags(name: str, group: str, source: str) -> dict[str, str]:
    """`layer` (the asset's group) and `provenance`: simulated, vendor-drop or platform-api for what is
    computed from the platforms' documents, else where the asset's own data come from."""
    return {"layer": group, "provenance": FILE_PROVENANCE.get(name, SOURCE_PROVENANCE.get(source, source))}


def _describe(spec: dg.AssetSpec, schedule_day: int, source: str) -> dg.AssetSpec:
    name = spec.key.to_user_string()
    metadata = dict(spec.metadata)
    tables = WAREHOUSE_TABLES.get(name)
    if tables:
        metadata["dagster/table_name"] = f"warehouse.{tables[0]}"
        metadata["dagster/column_schema"] = table_schema(tables[0])
        if len(tables) > 1:
            metadata["also_writes"] = ", ".join(f"warehouse.{t}" for t in tables[1:])
    if name in COLUMN_LINEAGE:
        metadata["dagster/column_lineage"] = column_lineage(name)
    attributes: dict[str, object] = {
        "owners": list(dict.fromkeys([*spec.owners, OWNER])),
        "metadata": metadata,
        "code_version": code_fingerprint(),
        "tags": {**spec.tags, **provenance_tags(name, spec.group_name or "default", source)},
    }
    if tables:  # every warehouse asset reads and writes its tables as polars frames
        attributes["kinds"] = {*spec.kinds, "duckdb", "polars"}
    if name == "published_index":
        attributes["freshness_policy"] = published_freshness(schedule_day)
    return spec.replace_attributes(**attributes)


def catalogued(
    assets: Sequence[dg.AssetsDefinition], schedule_day: int, source: str = "simulated"
) -> list[dg.AssetsDefinition]:
    """The assets with owner, table name, column schema, layer and provenance tags (`source`: the
    `CITYINDEX_SOURCE` they read), freshness (due by `schedule_day`) and links to their source."""
    described = dg.map_asset_specs(lambda spec: _describe(spec, schedule_day, source), assets)
    return list(dg.with_source_code_references(described))


__all__ = ["WAREHOUSE_TABLES", "catalogued", "published_freshness", "table_schema"]
