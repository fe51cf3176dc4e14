"""Blocking checks on the index: a month that fails one of these is not published.

Each check reads its own month partition from the warehouse (never an IO-manager input, which can
hand a partitioned check an empty frame).
"""

import dagster as dg

from assets.index import comprehensive_index, platform_weights
from cityindex_pipeline import quality
from cityindex_pipeline.months import Month
from cityindex_pipeline.partitions import monthly
from cityindex_pipeline.quality import Finding
from cityindex_pipeline.resources import WarehouseResource


def _result(
    finding: Finding, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=finding.passed,
        severity=severity,
        metadata={
            "failed_rows": finding.failed_rows,
            "sample": dg.MetadataValue.json(finding.sample),
            "detail": finding.detail,
        },
    )


@dg.asset_check(asset=comprehensive_index, partitions_def=monthly, blocking=True)
def one_row_per_city(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    """Every city of the month's registry has exactly one row."""
    month = Month.from_partition_key(context.partition_key)
    store = warehouse.get()
    return _result(
        quality.roster_complete(
            store.read_month("idx.comprehensive_index", month),
            store.read_month("clean.registry_cities", month),
        )
    )


@dg.asset_check(asset=comprehensive_index, partitions_def=monthly, blocking=True)
def scores_between_0_and_100(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    month = Month.from_partition_key(context.partition_key)
    index = warehouse.get().read_month("idx.comprehensive_index", month)
    return _result(quality.scores_in_range(index, ("score", "quantitative_score", "qualitative_score")))


@dg.asset_check(asset=comprehensive_index, partitions_def=monthly, blocking=True)
def ranks_follow_scores(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    month = Month.from_partition_key(context.partition_key)
    return _result(quality.ranks_consistent(warehouse.get().read_month("idx.comprehensive_index", month)))


@dg.asset_check(asset=platform_weights, partitions_def=monthly, blocking=True)
def weights_sum_to_one(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    month = Month.from_partition_key(context.partition_key)
    return _result(quality.weights_sum_to_one(warehouse.get().read_month("idx.platform_weights", month)))


index_checks = [one_row_per_city, scores_between_0_and_100, ranks_follow_scores, weights_sum_to_one]
