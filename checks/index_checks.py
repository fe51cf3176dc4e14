"""Blocking checks on the index: a month that fails one of these is not published.

Each check reads its own month partition from the warehouse (never an IO-manager input, which can
hand a partitioned check an empty frame).
"""

from collections.abc import Callable

import dagster as dg

from assets.index import comprehensive_index
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.defs.partitions import monthly
from cityindex_pipeline.defs.resources import (
    ExpectationsResource,
    MonthHistory,
    PublicationResource,
    PublishOptions,
    WarehouseResource,
)
from cityindex_pipeline.method.panel import CRITERIA
from cityindex_pipeline.publication.previous_month import (
    built_from_previous_month,
    read_month_tables,
    read_previous_month,
)
from cityindex_pipeline.quality import gates, index_rules, suites
from cityindex_pipeline.quality.findings import Finding
from cityindex_pipeline.quality.history import READ_BY_ASSET, previous_month_computed
from cityindex_pipeline.quality.settling import month_settled
from cityindex_pipeline.warehouse.store import Warehouse

from .results import RUN_FIRST, check_result, specs


def _roster_complete(store: Warehouse, month: Month) -> Finding:
    return index_rules.roster_complete(
        store.read_month("idx.comprehensive_index", month), store.read_month("clean.registry_cities", month)
    )


def _scores_in_range(store: Warehouse, month: Month) -> Finding:
    index = store.read_month("idx.comprehensive_index", month)
    return index_rules.scores_in_range(index, ("score", "quantitative_score", "qualitative_score"))


def _ranks_consistent(store: Warehouse, month: Month) -> Finding:
    return index_rules.ranks_consistent(store.read_month("idx.comprehensive_index", month))


def _own_step(gate: gates.Gate, evaluate: Callable[[Warehouse, Month], Finding]) -> dg.AssetChecksDefinition:
    """A gate of the index evaluated in a step of its own (a failure shows as that step), named and
    described by the catalogue."""

    @dg.asset_check(
        asset=comprehensive_index,
        name=gate.name,
        description=gate.guards,
        partitions_def=monthly,
        blocking=True,
        op_tags=RUN_FIRST,
    )
    def _check(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, publish_options: PublishOptions
    ) -> dg.AssetCheckResult:
        with warehouse.held() as store:
            finding = evaluate(store, Month.from_partition_key(context.partition_key))
        return check_result(gate.asset, gate.name, finding, publish_options)

    return _check


OWN_STEPS = {
    "one_row_per_city": _roster_complete,
    "scores_between_0_and_100": _scores_in_range,
    "ranks_follow_scores": _ranks_consistent,
}
"""The index's gates that run each as a step of its own, with what evaluates them."""

own_step_checks = [
    _own_step(gates.gate("comprehensive_index", name), evaluate) for name, evaluate in OWN_STEPS.items()
]


@dg.multi_asset_check(op_tags=RUN_FIRST, specs=specs(gates.gates_of("platform_weights")))
def weights_checks(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    publish_options: PublishOptions,
    expectations: ExpectationsResource,
):
    """The platform weights sum to 1 (a plain rule, and the same as a Great Expectations suite)."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        weights = store.read_month("idx.platform_weights", month)
    evaluate = {
        "weights_sum_to_one": lambda: index_rules.weights_sum_to_one(weights),
        "platform_weights_valid": lambda: expectations.validate(
            weights, suites.weights_suite(), "platform_weights"
        )["platform_weights_valid"],
    }
    for gate in gates.gates_of("platform_weights"):
        yield check_result("platform_weights", gate.name, evaluate[gate.name](), publish_options)


@dg.multi_asset_check(
    op_tags=RUN_FIRST,
    specs=specs(gate for platform in PLATFORMS for gate in gates.gates_of(f"platform_index_{platform}")),
)
def platform_rank_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, publish_options: PublishOptions
):
    """Each platform's ranks are the competition ranks of its scores; its top ten are ranks 1-10."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        scores = store.read_month("idx.platform_index", month)
    for platform in PLATFORMS:
        asset = f"platform_index_{platform}"
        findings = {
            "platform_ranks_follow_scores": index_rules.platform_ranks_consistent(
                scores.filter(platform=platform)
            )
        }
        for gate in gates.gates_of(asset):
            yield check_result(asset, gate.name, findings[gate.name], publish_options)


INDEX_GATES = [g for g in gates.gates_of("comprehensive_index") if g.name not in OWN_STEPS]
"""The index's gates evaluated together in one step; the checks above are each a step of their own."""


@dg.multi_asset_check(op_tags=RUN_FIRST, specs=specs(INDEX_GATES))
def index_gate_checks(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    publication: PublicationResource,
    publish_options: PublishOptions,
    history: MonthHistory,
    expectations: ExpectationsResource,
):
    """The panel policy applied, the index against its suite, the month settled before publishing, and
    built from one version of the previous month (the one it holds now)."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        with store.snapshot():
            own, previous = read_month_tables(store, month), read_previous_month(store, month, history.first)
        index = store.read_month("idx.comprehensive_index", month)
        cities = store.read_month("clean.registry_cities", month)
        findings = {
            "qualitative_scores_complete": index_rules.qualitative_complete(
                store.read_month("idx.qualitative_scores", month), index, cities, CRITERIA
            ),
            "index_well_formed": expectations.validate(
                index, suites.index_suite(cities.height), "comprehensive_index"
            )["index_well_formed"],
            "month_has_settled": month_settled(month, publication.now(), publication.settling_days),
            "built_from_previous_month": built_from_previous_month(month, own, previous.tables),
            "previous_month_computed": previous_month_computed(
                month,
                history.first,
                store.month_row_counts(READ_BY_ASSET["comprehensive_index"], month.previous()),
                READ_BY_ASSET["comprehensive_index"],
            ),
        }
        for gate in INDEX_GATES:
            yield check_result("comprehensive_index", gate.name, findings[gate.name], publish_options)


@dg.multi_asset_check(op_tags=RUN_FIRST, specs=specs(gates.gates_of("platform_indicators")))
def indicator_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, publish_options: PublishOptions
):
    """Every indicator value once, weighted, inside its platform's range after treatment and normalisation."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        finding = index_rules.indicators_well_formed(store.read_month("idx.platform_indicators", month))
    for gate in gates.gates_of("platform_indicators"):
        yield check_result("platform_indicators", gate.name, finding, publish_options)


@dg.multi_asset_check(op_tags=RUN_FIRST, specs=specs(gates.gates_of("index_uncertainty")))
def uncertainty_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, publish_options: PublishOptions
):
    """A rank interval for every city, ordered and within the roster (the publication carries them)."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        finding = index_rules.rank_intervals_well_formed(
            store.read_month("idx.index_uncertainty", month),
            store.read_month("clean.registry_cities", month).height,
        )
        for gate in gates.gates_of("index_uncertainty"):
            yield check_result("index_uncertainty", gate.name, finding, publish_options)


index_checks = [
    *own_step_checks,
    indicator_checks,
    uncertainty_checks,
    weights_checks,
    platform_rank_checks,
    index_gate_checks,
]
