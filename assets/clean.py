"""The clean layer: typed posts and account metrics; what cannot be used is quarantined with its reason."""

import dagster as dg
import polars as pl

from cityindex_pipeline.cleaning import account_metrics, clean_platform, profiles_of
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.defs.partitions import monthly, one_month_per_run
from cityindex_pipeline.defs.resources import (
    MethodologyVersion,
    MonthHistory,
    SettingsRecord,
    WarehouseResource,
)
from cityindex_pipeline.parsing import PROFILE_ENDPOINTS

from .raw import raw_assets


@dg.asset(
    partitions_def=monthly,
    backfill_policy=one_month_per_run,
    group_name="clean",
    pool="warehouse",
    deps=raw_assets,
    kinds={"duckdb", "polars"},
)
def clean_posts(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    methodology_version: MethodologyVersion,
    settings: SettingsRecord,
) -> dg.MaterializeResult:
    """One row per post published in the month (Beijing time), deduplicated; rejects go to clean.quarantine."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        accounts = store.read_month("clean.registry_accounts", month)
        cleaned = {
            platform: clean_platform(
                store.raw_documents(month, platform),
                accounts.filter(platform=platform),
                month,
                platform,
                methodology_version.load(),
            )
            for platform in PLATFORMS
        }
        posts = pl.concat([c.posts for c in cleaned.values()])
        quarantine = pl.concat([c.quarantine for c in cleaned.values()])
        data_sha256 = store.replace_month(
            month, context.run.run_id, {"clean.posts": posts, "clean.quarantine": quarantine}
        )
        return dg.MaterializeResult(
            data_version=dg.DataVersion(data_sha256),
            metadata={
                **settings.metadata(),
                "dagster/row_count": posts.height,
                "data_sha256": data_sha256,
                "posts": posts.height,
                "posts_per_platform": dg.MetadataValue.json({p: c.posts.height for p, c in cleaned.items()}),
                "quarantined": quarantine.height,
                # one number per platform, so that Dagster plots each month by month (asset → Plots)
                **{f"posts_{p}": c.posts.height for p, c in cleaned.items()},
                **{f"quarantined_{p}": c.quarantine.height for p, c in cleaned.items()},
                "quarantine_reasons": dg.MetadataValue.json(
                    dict(
                        quarantine.group_by("reason").len().sort("len", descending=True).head(10).iter_rows()
                    )
                ),
            },
        )


@dg.asset(
    partitions_def=monthly,
    backfill_policy=one_month_per_run,
    group_name="clean",
    pool="warehouse",
    # followers come from the raw profile documents themselves, the rest from the posts; the previous
    # month's metrics (follower growth) are read in month order (see `one_month_per_run`)
    deps=[clean_posts, *raw_assets],
    kinds={"duckdb", "polars"},
)
def clean_account_metrics(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    history: MonthHistory,
    settings: SettingsRecord,
) -> dg.MaterializeResult:
    """One row per account and month: followers and their growth, posts, active days, interactions, views."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        profiles = pl.concat(
            [profiles_of(store.raw_documents(month, p, [PROFILE_ENDPOINTS[p]]), p) for p in PLATFORMS]
        )
        metrics = account_metrics(
            posts=store.read_month("clean.posts", month),
            profiles=profiles,
            accounts=store.read_month("clean.registry_accounts", month).filter("active"),
            previous=store.read_month_before("clean.account_metrics", month, history.first),
        )
        data_sha256 = store.replace_month(month, context.run.run_id, {"clean.account_metrics": metrics})
        return dg.MaterializeResult(
            data_version=dg.DataVersion(data_sha256),
            metadata={
                **settings.metadata(),
                "dagster/row_count": metrics.height,
                "data_sha256": data_sha256,
                "accounts": metrics.height,
                "followers_withheld": int(metrics["followers"].null_count()),
                "accounts_without_posts": int((metrics["posts"] == 0).sum()),
                "previous_month_available": bool(metrics["followers_previous"].is_not_null().any()),
            },
        )
