"""The raw layer: one pull per platform and month, every response body kept verbatim, append-only."""

import dagster as dg

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.defs.partitions import monthly, one_month_per_run
from cityindex_pipeline.defs.resources import SettingsRecord, SourceResource, WarehouseResource
from cityindex_pipeline.reference.snapshots import registered_accounts
from cityindex_pipeline.sources.ingest import pull_month

from .registry import account_registry


def raw_asset(platform: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"raw_{platform}",
        partitions_def=monthly,
        backfill_policy=one_month_per_run,
        group_name="raw",
        pool="warehouse",
        deps=[account_registry],
        kinds={"duckdb", "json"},
        description=f"Every {platform} API response of the month for the registered accounts, verbatim, "
        "with sha256, request URL (no secrets), fetched_at and pull id. Append-only: a re-pull adds a pull; "
        "an interrupted pull resumes after the accounts it stored.",
    )
    def _raw(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        source: SourceResource,
        settings: SettingsRecord,
    ) -> dg.MaterializeResult:
        month = Month.from_partition_key(context.partition_key)
        with warehouse.held() as store:
            accounts = registered_accounts(store, month, platform)
            pulled = pull_month(source.get(), store, month, platform, accounts, run_id=context.run.run_id)
            data_sha256 = store.pull_documents_sha256(pulled.pull_id)
            return dg.MaterializeResult(
                data_version=dg.DataVersion(data_sha256),
                metadata={
                    **settings.metadata(),
                    "dagster/row_count": pulled.documents,
                    "data_sha256": data_sha256,
                    "source": source.kind,
                    "pull_id": pulled.pull_id,
                    "resumed": pulled.resumed,
                    "accounts": pulled.accounts,
                    "accounts_already_stored": pulled.accounts_skipped_as_stored,
                    "accounts_with_documents": pulled.accounts_with_documents,
                    "documents": pulled.documents,
                    "documents_per_endpoint": dg.MetadataValue.json(pulled.documents_per_endpoint),
                    "bytes": pulled.bytes,
                    "problems": len(pulled.problems),
                    "problem_files": dg.MetadataValue.json(pulled.problems[:50]),
                },
            )

    return _raw


raw_assets = [raw_asset(platform) for platform in PLATFORMS]
