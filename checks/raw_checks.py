"""Checks on the raw layer: every account accounted for, no error body taken as data, every drop whole
by the source's own structure, plausible volumes.

One step checks the four platforms (16 results); it reads each platform's latest complete pull of the
month from the warehouse, and the previous month's for comparison.
"""

from collections.abc import Callable

import dagster as dg
import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.defs.resources import PublishOptions, WarehouseResource
from cityindex_pipeline.quality import completeness, raw_rules
from cityindex_pipeline.quality.findings import Finding
from cityindex_pipeline.quality.gates import gates_of
from cityindex_pipeline.quality.pull_structure import Stored, read_pull
from cityindex_pipeline.warehouse.store import Warehouse

from .results import RUN_FIRST, check_result, specs


def _pull(store: Warehouse, month: Month, platform: str) -> tuple[pl.DataFrame, Stored, pl.DataFrame]:
    """The latest complete pull's documents (with `unusable`), the same as completeness reads them
    (each body parsed once), and the problems it recorded."""
    documents, stored = read_pull(platform, store.raw_documents(month, platform))
    pull = store.latest_pull(month, platform)
    problems = store.source_problems(str(pull["pull_id"])) if pull else store.source_problems("")
    return documents, stored, problems


def _evaluations(
    store: Warehouse, month: Month, platform: str, accounts: pl.DataFrame
) -> dict[str, Callable[[], Finding]]:
    """How each raw gate of the platform is evaluated, by gate name: each when its result is due."""
    documents, stored, problems = _pull(store, month, platform)
    of_platform = accounts.filter(platform=platform)
    active = of_platform.filter("active")
    return {
        "accounts_covered": lambda: raw_rules.accounts_covered(
            active, documents, problems, not_started=of_platform.filter(~pl.col("active")).height
        ),
        "no_error_bodies_as_data": lambda: raw_rules.error_bodies_recorded(documents, problems),
        "drop_complete": lambda: completeness.drop_complete(platform, month, active, stored, problems),
        "document_counts_plausible": lambda: raw_rules.document_counts_plausible(
            documents, raw_rules.with_usability(store.raw_documents(month.previous(), platform))
        ),
    }


@dg.multi_asset_check(
    op_tags=RUN_FIRST, specs=specs(gate for platform in PLATFORMS for gate in gates_of(f"raw_{platform}"))
)
def raw_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, publish_options: PublishOptions
):
    """Coverage of the registry, error bodies recorded as problems, gaps in the source's structure,
    documents per account vs last month."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        accounts = store.read_month("clean.registry_accounts", month)
        for platform in PLATFORMS:
            asset = f"raw_{platform}"
            evaluate = _evaluations(store, month, platform, accounts)
            for gate in gates_of(asset):
                yield check_result(asset, gate.name, evaluate[gate.name](), publish_options)
