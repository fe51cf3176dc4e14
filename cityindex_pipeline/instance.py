"""The local Dagster instance under `$CITYINDEX_HOME/dagster`: runs, event logs and the run queue."""

from __future__ import annotations

import os

from cityindex_pipeline.config import Settings

DAGSTER_YAML = """\
# Written by cityindex on first use; edit freely, it is not overwritten.
# DuckDB allows one writing process per file: the steps that write take the `warehouse` pool,
# and one step of that pool runs at a time across every run of this instance.
concurrency:
  pools:
    default_limit: 1
  runs:
    max_concurrent_runs: 4
telemetry:
  enabled: false
"""


def ensure_dagster_home(settings: Settings) -> str:
    """Create DAGSTER_HOME with its dagster.yaml if missing, export it, and return its path."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return str(home)
