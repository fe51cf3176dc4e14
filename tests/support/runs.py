"""A month materialised into a temporary home, as the tests run them."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import Settings


def make_settings(home: Path) -> Settings:
    return Settings(home=home, source="simulated", seed=20240901)


WITHOUT_REPORT = dg.AssetSelection.all() - dg.AssetSelection.assets("monthly_report")
"""The default of these tests: the report renders 18 charts (seconds a month) and has its own tests,
which ask for it with `dg.AssetSelection.all()`."""


def materialize(settings: Settings, month: Month, selection=None, instance=None) -> dg.ExecuteInProcessResult:
    """Run the graph for one month, in process, as the monthly job does: every asset but the report
    unless `selection` says otherwise."""
    from assets import all_assets
    from checks import all_checks
    from cityindex_pipeline.defs.resources import resources_for

    return dg.materialize(
        [*all_assets, *all_checks],
        partition_key=month.partition_key,
        resources=resources_for(settings),
        selection=WITHOUT_REPORT if selection is None else selection,
        instance=instance,
        raise_on_error=False,
    )
