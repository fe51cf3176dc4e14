"""The code location: every asset and check, partitioned by month, run in process against one DuckDB file.

Built lazily: `defs` is a `@dg.definitions` function, called when Dagster (`dg`, `dagster`, the
webserver, the daemon, a code server) loads the location, so importing this module builds nothing
and the settings are read from the environment of that moment."""

import dagster as dg

from assets import all_assets
from checks import all_checks
from cityindex_pipeline.core.settings import Settings, settings_from_env
from cityindex_pipeline.defs.catalog import catalogued
from cityindex_pipeline.defs.jobs import monthly_index_job
from cityindex_pipeline.defs.republish import qualitative_republish_sensor
from cityindex_pipeline.defs.resources import resources_for
from cityindex_pipeline.defs.schedules import monthly_schedule
from cityindex_pipeline.defs.sensors import landing_drop_sensor


def build_definitions(
    settings: Settings | None = None, loggers: dict[str, dg.LoggerDefinition] | None = None
) -> dg.Definitions:
    """The graph and its wiring, configured by `settings` (None: read from the environment, once)."""
    settings = settings or settings_from_env()
    # In-process: one process per run, so one DuckDB writer per run and no ~3 s start-up per step.
    return dg.Definitions(
        assets=catalogued(all_assets, settings.schedule_day, settings.source),
        asset_checks=all_checks,
        jobs=[monthly_index_job],
        schedules=[monthly_schedule(settings.schedule_day)],
        sensors=[landing_drop_sensor, qualitative_republish_sensor],
        resources=resources_for(settings),
        executor=dg.in_process_executor,
        loggers=loggers,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location as `workspace.yaml`, `[tool.dagster]` and `[tool.dg]` load it."""
    return build_definitions()
