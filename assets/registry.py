"""Reference inputs of a month: the account registry and the platform reference figures."""

import dagster as dg
import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.render import markdown_table
from cityindex_pipeline.defs.partitions import monthly, one_month_per_run
from cityindex_pipeline.defs.resources import MethodologyVersion, SettingsRecord, WarehouseResource
from cityindex_pipeline.method.indicators import cover
from cityindex_pipeline.reference.platform_users import load_platform_users, users_frame
from cityindex_pipeline.reference.platforms import load_platform_reference
from cityindex_pipeline.reference.registry import load_registry


@dg.asset(
    partitions_def=monthly,
    backfill_policy=one_month_per_run,
    group_name="registry",
    pool="warehouse",
    kinds={"duckdb", "csv"},
)
def account_registry(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    methodology_version: MethodologyVersion,
    settings: SettingsRecord,
) -> dg.MaterializeResult:
    """The cities of the month's roster and their official accounts, from the versioned CSVs and the
    methodology's coverage: an account is active once started, if its city and platform are covered."""
    month = Month.from_partition_key(context.partition_key)
    registry = load_registry()
    cities, accounts = cover(registry.cities, registry.accounts, month, methodology_version.load())
    accounts = accounts.with_columns(pl.lit(registry.version).alias("registry_version"))
    cities = cities.with_columns(pl.lit(registry.version).alias("registry_version"))
    with warehouse.held() as store:
        data_sha256 = store.replace_month(
            month, context.run.run_id, {"clean.registry_cities": cities, "clean.registry_accounts": accounts}
        )
    per_platform = accounts.filter("active").group_by("platform").len().sort("platform")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(data_sha256),
        metadata={
            **settings.metadata(),
            "dagster/row_count": cities.height,
            "data_sha256": data_sha256,
            "registry_version": registry.version,
            "cities": cities.height,
            "accounts": accounts.height,
            "active_accounts": int(accounts["active"].sum()),
            "active_accounts_per_platform": dg.MetadataValue.json(dict(per_platform.iter_rows())),
            "invented_accounts": int((accounts["provenance"] == "invented").sum()),
        },
    )


@dg.asset(
    partitions_def=monthly,
    backfill_policy=one_month_per_run,
    group_name="registry",
    pool="warehouse",
    kinds={"duckdb", "csv"},
)
def platform_reference(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsRecord
) -> dg.MaterializeResult:
    """Each platform's global user scale (the fixed reference figures, and the series taken at the month),
    activity and relevance: the inputs of the platform weights."""
    month = Month.from_partition_key(context.partition_key)
    reference = load_platform_reference().join(
        users_frame(load_platform_users(), month), on="platform", how="left"
    )
    with warehouse.held() as store:
        data_sha256 = store.replace_month(month, context.run.run_id, {"idx.platform_reference": reference})
    return dg.MaterializeResult(
        data_version=dg.DataVersion(data_sha256),
        metadata={
            **settings.metadata(),
            "dagster/row_count": reference.height,
            "data_sha256": data_sha256,
            "reference": dg.MetadataValue.md(markdown_table(reference.drop("reference_note", "users_basis"))),
            "users_basis": dg.MetadataValue.json(
                dict(reference.select("platform", "users_basis").iter_rows())
            ),
        },
    )
