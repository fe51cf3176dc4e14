"""The index layer: indicators, the four platform indices, weights, the panel and the comprehensive index."""

import dagster as dg
import polars as pl

from cityindex_pipeline import method
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.render import markdown_table
from cityindex_pipeline.defs.partitions import monthly, one_month_per_run
from cityindex_pipeline.defs.resources import (
    MethodologyVersion,
    MonthHistory,
    SettingsRecord,
    SourceResource,
    WarehouseResource,
)
from cityindex_pipeline.method.panel import panel_for_month, read_panel_file
from cityindex_pipeline.method.uncertainty import sensitivity_summary, simulate_uncertainty

from .clean import clean_account_metrics, clean_posts
from .registry import account_registry, platform_reference


@dg.asset(
    partitions_def=monthly,
    backfill_policy=one_month_per_run,
    group_name="index",
    pool="warehouse",
    deps=[platform_reference, clean_account_metrics],
    kinds={"duckdb"},
)
def platform_weights(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    methodology_version: MethodologyVersion,
    settings: SettingsRecord,
) -> dg.MaterializeResult:
    """Platform weights from user scale, activity and relevance (criteria weights in the methodology),
    measured for the month from 0.5.0."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        methodology = methodology_version.load()
        platforms = methodology.coverage.comprehensive_platforms_in(month)
        weights = method.platform_weights(
            store.read_month("idx.platform_reference", month),
            methodology,
            platforms,
            activity=method.platform_activity(
                store.read_month("clean.account_metrics", month), methodology, platforms
            ),
        )
        data_sha256 = store.replace_month(
            month,
            context.run.run_id,
            {"idx.platform_weights": weights.with_columns(methodology_version=pl.lit(methodology.version))},
        )
        return dg.MaterializeResult(
            data_version=dg.DataVersion(data_sha256),
            metadata={
                **settings.metadata(),
                "dagster/row_count": weights.height,
                "data_sha256": data_sha256,
                "weights": dg.MetadataValue.md(markdown_table(weights.drop("users_basis", strict=False), 3)),
                "sum": float(weights["weight"].sum()),
            },
        )


@dg.asset(
    partitions_def=monthly,
    backfill_policy=one_month_per_run,
    group_name="index",
    pool="warehouse",
    deps=[clean_account_metrics, clean_posts],
    kinds={"duckdb", "polars"},
)
def platform_indicators(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    methodology_version: MethodologyVersion,
    settings: SettingsRecord,
) -> dg.MaterializeResult:
    """Each city's raw indicators per computed platform, treated for outliers and normalised to 0-100."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        methodology = methodology_version.load()
        metrics, posts = (
            store.read_month("clean.account_metrics", month),
            store.read_month("clean.posts", month),
        )
        long = method.platform_indicators(
            metrics, posts, methodology, methodology.coverage.platforms_in(month)
        )
        data_sha256 = store.replace_month(month, context.run.run_id, {"idx.platform_indicators": long})
        cities = long.group_by("platform").agg(pl.col("city_id").n_unique()).sort("platform")
        return dg.MaterializeResult(
            data_version=dg.DataVersion(data_sha256),
            metadata={
                **settings.metadata(),
                "dagster/row_count": long.height,
                "data_sha256": data_sha256,
                "rows": long.height,
                "cities_per_platform": dg.MetadataValue.json(dict(cities.iter_rows())),
                "missing_values": int(long["raw_value"].null_count()),
                "methodology_version": methodology.version,
                "treated_indicators": dg.MetadataValue.md(markdown_table(method.treatment_summary(long), 3)),
            },
        )


def platform_index_asset(platform: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"platform_index_{platform}",
        partitions_def=monthly,
        backfill_policy=one_month_per_run,
        group_name="index",
        pool="warehouse",
        deps=[platform_indicators],
        kinds={"duckdb", "polars"},
        description=f"The {platform} index: G, I and U scores, weighted score, rank and top ten.",
    )
    def _platform_index(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        methodology_version: MethodologyVersion,
        history: MonthHistory,
        settings: SettingsRecord,
    ) -> dg.MaterializeResult:
        month = Month.from_partition_key(context.partition_key)
        with warehouse.held() as store:
            methodology = methodology_version.load()
            long = store.read_month("idx.platform_indicators", month).filter(platform=platform)
            previous = store.read_month_before("idx.platform_index", month, history.first).filter(
                platform=platform
            )
            scores = method.platform_index(long, methodology, previous).with_columns(
                methodology_version=pl.lit(methodology.version)
            )
            data_sha256 = store.replace_month(
                month, context.run.run_id, {"idx.platform_index": scores}, platform=platform
            )
            top = method.top_ten(scores.select("rank", "city_id", "score", "rank_change"), methodology)
            coverage = methodology.coverage
            role = (
                "not computed this month"
                if platform not in coverage.platforms_in(month)
                else "comprehensive"
                if platform in coverage.comprehensive_platforms_in(month)
                else "monitored (no weight in the comprehensive index)"
            )
            return dg.MaterializeResult(
                data_version=dg.DataVersion(data_sha256),
                metadata={
                    **settings.metadata(),
                    "dagster/row_count": scores.height,
                    "data_sha256": data_sha256,
                    "cities": scores.height,
                    "role": role,
                    "top_ten": dg.MetadataValue.md(markdown_table(top)),
                    "top_ten_order": methodology.top_ten_order,
                },
            )

    return _platform_index


platform_index_assets = [platform_index_asset(platform) for platform in PLATFORMS]


@dg.asset(
    partitions_def=monthly,
    backfill_policy=one_month_per_run,
    group_name="index",
    pool="warehouse",
    deps=[account_registry],
    kinds={"duckdb"},
)
def qualitative_scores(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    source: SourceResource,
    methodology_version: MethodologyVersion,
    history: MonthHistory,
    settings: SettingsRecord,
) -> dg.MaterializeResult:
    """The expert panel (20 %): its file if one has landed, else the methodology's missing-panel
    policy (carry the last month forward, flagged, or block); SIMULATED with the simulated source."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        methodology = methodology_version.load()
        city_ids = store.read_month("clean.registry_cities", month)["city_id"].to_list()
        panel_file = read_panel_file(source.landing_path, month)
        panel = panel_for_month(
            month,
            panel_file,
            city_ids,
            methodology.qualitative,
            previous=store.read_month_before("idx.qualitative_scores", month, history.first),
            simulated_source=source.kind == "simulated",
            seed=source.seed,
        )
        data_sha256 = store.replace_month(month, context.run.run_id, {"idx.qualitative_scores": panel})
        carried = panel["carried_from"].drop_nulls()
        return dg.MaterializeResult(
            data_version=dg.DataVersion(data_sha256),
            metadata={
                **settings.metadata(),
                "dagster/row_count": panel.height,
                "data_sha256": data_sha256,
                "source": panel["source"][0] if panel.height else "none",
                "file": panel_file.where
                if panel_file.content is not None
                else f"none ({methodology.qualitative.missing_panel} policy)",
                "carried_from": str(carried.min()) if carried.len() else "not carried",
                "raters": panel["rater"].n_unique(),
                "scores": panel.height,
            },
        )


@dg.asset(
    partitions_def=monthly,
    backfill_policy=one_month_per_run,
    group_name="index",
    pool="warehouse",
    deps=[
        *platform_index_assets,
        platform_weights,
        qualitative_scores,
    ],
    kinds={"duckdb", "polars"},
)
def comprehensive_index(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    methodology_version: MethodologyVersion,
    history: MonthHistory,
    settings: SettingsRecord,
) -> dg.MaterializeResult:
    """80 % quantitative (platform indices x platform weights) + 20 % qualitative; rank and change."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        methodology = methodology_version.load()
        scores = method.comprehensive_index(
            cities=store.read_month("clean.registry_cities", month),
            platform_scores=store.read_month("idx.platform_index", month),
            weights=store.read_month("idx.platform_weights", month),
            qualitative=store.read_month("idx.qualitative_scores", month),
            previous=store.read_month_before("idx.comprehensive_index", month, history.first),
            methodology=methodology,
        ).with_columns(methodology_version=pl.lit(methodology.version))
        data_sha256 = store.replace_month(month, context.run.run_id, {"idx.comprehensive_index": scores})
        top = method.top_ten(
            scores.select(
                "rank", "city_id", "score", "quantitative_score", "qualitative_score", "rank_change"
            ),
            methodology,
        )
        return dg.MaterializeResult(
            data_version=dg.DataVersion(data_sha256),
            metadata={
                **settings.metadata(),
                "dagster/row_count": scores.height,
                "data_sha256": data_sha256,
                "cities": scores.height,
                # numbers Dagster plots month by month (asset → Plots)
                "top_score": float(scores["score"].max()),
                "median_score": float(scores["score"].median()),
                "cities_scored": int(scores["score"].is_not_null().sum()),
                "top_ten": dg.MetadataValue.md(markdown_table(top)),
                "top_ten_order": methodology.top_ten_order,
                "methodology_version": methodology.version,
            },
        )


@dg.asset(
    partitions_def=monthly,
    backfill_policy=one_month_per_run,
    group_name="index",
    pool="warehouse",
    deps=[comprehensive_index, platform_indicators, platform_weights, qualitative_scores, clean_posts],
    kinds={"duckdb", "numpy"},
)
def index_uncertainty(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    methodology_version: MethodologyVersion,
    settings: SettingsRecord,
) -> dg.MaterializeResult:
    """How sure each rank is, and which choice moves it: the index recomputed under other weights,
    normalisations and qualitative shares, seeded; Sobol first-order and total indices with bootstrap
    intervals (0.5.0 on), or one-at-a-time shares of the rank variance (the legacy analysis)."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        methodology = methodology_version.load()
        variants = method.interaction_weight_variants(
            store.read_month("clean.account_metrics", month),
            store.read_month("clean.posts", month),
            methodology,
            methodology.coverage.platforms_in(month),
        )
        intervals, sensitivity = simulate_uncertainty(
            indicators=store.read_month("idx.platform_indicators", month),
            weights=store.read_month("idx.platform_weights", month),
            qualitative=store.read_month("idx.qualitative_scores", month),
            cities=store.read_month("clean.registry_cities", month)["city_id"].to_list(),
            methodology=methodology,
            indicator_variants=variants or None,
        )
        summary, sobol_design = sensitivity_summary(sensitivity)
        version = pl.lit(methodology.version).alias("methodology_version")
        data_sha256 = store.replace_month(
            month,
            context.run.run_id,
            {
                "idx.index_uncertainty": intervals.with_columns(version),
                "idx.uncertainty_sensitivity": sensitivity.with_columns(version),
            },
        )
        return dg.MaterializeResult(
            data_version=dg.DataVersion(data_sha256),
            metadata={
                **settings.metadata(),
                "dagster/row_count": intervals.height,
                "data_sha256": data_sha256,
                "draws": int(intervals["draws"][0]),
                "seed": int(intervals["seed"][0]),
                "not_robust": int((~intervals["robust"]).sum()),
                "top_ten_intervals": dg.MetadataValue.md(
                    markdown_table(
                        intervals.head(10).select(
                            "city_id", "nominal_rank", "median_rank", "rank_p05", "rank_p95"
                        )
                    )
                ),
                "sensitivity": dg.MetadataValue.md(markdown_table(summary, 3)),
                **sobol_design,
            },
        )
