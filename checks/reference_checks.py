"""Checks on what a month is computed from besides the platforms' documents: the registry, the
platform figures and the expert panel, each copied into the month from its versioned file.

One step checks the registry and the platform figures (the graph's roots), another the panel (which
reads the registry, so a step of both would wait for itself); each reads its month from the warehouse.
"""

import dagster as dg

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.defs.resources import PublishOptions, WarehouseResource
from cityindex_pipeline.quality import index_rules, reference_rules
from cityindex_pipeline.quality.gates import gates_of

from .results import RUN_FIRST, check_result, specs

REFERENCE_ASSETS = ("account_registry", "platform_reference")


@dg.multi_asset_check(
    op_tags=RUN_FIRST,
    specs=specs(gate for asset in REFERENCE_ASSETS for gate in gates_of(asset)),
    can_subset=True,  # the registry or the platform figures materialised alone run their own check
)
def reference_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, publish_options: PublishOptions
):
    """The registry consistent, a positive figure for every platform."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        evaluate = {
            "account_registry": lambda: reference_rules.registry_consistent(
                store.read_month("clean.registry_cities", month),
                store.read_month("clean.registry_accounts", month),
                PLATFORMS,
            ),
            "platform_reference": lambda: reference_rules.reference_complete(
                store.read_month("idx.platform_reference", month), PLATFORMS
            ),
        }
        selected = context.selected_asset_check_keys
        for asset in REFERENCE_ASSETS:
            for gate in gates_of(asset):
                if dg.AssetCheckKey(dg.AssetKey(asset), gate.name) in selected:
                    yield check_result(asset, gate.name, evaluate[asset](), publish_options)


@dg.multi_asset_check(op_tags=RUN_FIRST, specs=specs(gates_of("qualitative_scores")))
def panel_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, publish_options: PublishOptions
):
    """Every panel score once, in range, labelled panel or simulated."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        finding = index_rules.panel_well_formed(store.read_month("idx.qualitative_scores", month))
    for gate in gates_of("qualitative_scores"):
        yield check_result("qualitative_scores", gate.name, finding, publish_options)


reference_layer_checks = [reference_checks, panel_checks]
