"""A month materialised into a temporary home, as the tests run them."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import Settings

FIRST_MONTH = Month(2024, 9)
"""Most tests compute September alone: their first month of coverage, unless they start earlier."""


def make_settings(home: Path, first_month: Month = FIRST_MONTH) -> Settings:
    """A test's settings: the simulated source, and the month the test starts from as its first month
    of coverage (a later month requires its previous month computed)."""
    return Settings(home=home, source="simulated", seed=20240901, first_month=first_month)


def cli_environment(home: Path, first_month: Month = FIRST_MONTH, **extra: str) -> dict[str, str]:
    """The environment of a `cityindex` subprocess on `home`, starting from `first_month`."""
    return {**os.environ, "CITYINDEX_HOME": str(home), "CITYINDEX_FIRST_MONTH": str(first_month), **extra}


WITHOUT_REPORT = dg.AssetSelection.all() - dg.AssetSelection.assets("monthly_report")
"""The default of these tests: the report renders 18 charts (seconds a month) and has its own tests,
which ask for it with `dg.AssetSelection.all()`."""


def in_memory_instance() -> dg.DagsterInstance:
    """The Dagster instance of an in-process test, kept in memory: runs, events and check results as
    the local instance keeps them, without its SQLite files (which cost about 6 s a month of
    connections). Tests of the instance itself, and of processes sharing one, use a real one."""
    return dg.DagsterInstance.ephemeral()


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
