"""Checks on the raw layer: every account accounted for, no error body taken as data, every drop whole
by the source's own structure, plausible volumes.

One step checks the four platforms (16 results); it reads each platform's latest complete pull of the
month from the warehouse, and the previous month's for comparison.
"""

import dagster as dg
import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.defs.resources import PublishOptions, WarehouseResource
from cityindex_pipeline.quality import completeness
from cityindex_pipeline.quality import rules as quality
from cityindex_pipeline.warehouse.store import Warehouse

from .results import RUN_FIRST, check_result, spec

RAW_CHECKS = ("accounts_covered", "no_error_bodies_as_data", "drop_complete", "document_counts_plausible")


def _pull(
    store: Warehouse, month: Month, platform: str
) -> tuple[pl.DataFrame, completeness.Stored, pl.DataFrame]:
    """The latest complete pull's documents (with `unusable`), the same as completeness reads them
    (each body parsed once), and the problems it recorded."""
    documents, stored = completeness.read_pull(platform, store.raw_documents(month, platform))
    pull = store.latest_pull(month, platform)
    problems = store.source_problems(str(pull["pull_id"])) if pull else store.source_problems("")
    return documents, stored, problems


@dg.multi_asset_check(
    op_tags=RUN_FIRST,
    specs=[spec(f"raw_{platform}", name) for platform in PLATFORMS for name in RAW_CHECKS],
)
def raw_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, publish_options: PublishOptions
):
    """Coverage of the registry, error bodies recorded as problems, gaps in the source's structure,
    documents per account vs last month."""
    month = Month.from_partition_key(context.partition_key)
    store = warehouse.get()
    accounts = store.read_month("clean.registry_accounts", month)
    for platform in PLATFORMS:
        asset = f"raw_{platform}"
        documents, stored, problems = _pull(store, month, platform)
        of_platform = accounts.filter(platform=platform)
        yield check_result(
            asset,
            "accounts_covered",
            quality.accounts_covered(
                of_platform.filter("active"),
                documents,
                problems,
                not_started=of_platform.filter(~pl.col("active")).height,
            ),
            publish_options,
        )
        yield check_result(
            asset,
            "no_error_bodies_as_data",
            quality.error_bodies_recorded(documents, problems),
            publish_options,
        )
        yield check_result(
            asset,
            "drop_complete",
            completeness.drop_complete(platform, month, of_platform.filter("active"), stored, problems),
            publish_options,
        )
        previous = quality.with_usability(store.raw_documents(month.previous(), platform))
        yield check_result(
            asset,
            "document_counts_plausible",
            quality.document_counts_plausible(documents, previous),
            publish_options,
        )
