"""The Dagster instance under `$DAGSTER_HOME`: runs, event logs, schedules and the run queue.

Two kinds, chosen by configuration and written as `$DAGSTER_HOME/dagster.yaml` on first use:

- embedded (default): SQLite files under `$DAGSTER_HOME`, for one machine;
- postgres: when `CITYINDEX_DAGSTER_POSTGRES_URL` is set (or `DAGSTER_PG_HOST`, with
  `DAGSTER_PG_USER`, `DAGSTER_PG_PASSWORD`, `DAGSTER_PG_DB`, `DAGSTER_PG_PORT`), run, event-log and
  schedule storage go to PostgreSQL, which several webservers, daemons and code locations can share.

Both use the queued run coordinator and the same concurrency settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.core.variables import DAGSTER_POSTGRES_URL_VARIABLE as POSTGRES_URL_VARIABLE
from cityindex_pipeline.core.variables import dagster_postgres_url_from_env

PG_VARIABLES = (
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
    "DAGSTER_PG_PORT",
)

CONCURRENCY = """\
# DuckDB allows one writing process per file, and month N reads month N-1: one run at a time, in
# the order the runs were queued (a backfill queues its months in order, one run per month, each
# tagged with its month), picked up within a second of the one before ending. The steps that
# write also take the `warehouse` pool (one slot), which keeps a run started beside the queue
# (`cityindex materialize`) from writing at the same moment. A second run waits in the queue.
run_coordinator:
  module: cityindex_pipeline.defs.run_queue
  class: MonthRunCoordinator
  config:
    dequeue_interval_seconds: 1
concurrency:
  pools:
    default_limit: 1
  runs:
    max_concurrent_runs: 1
telemetry:
  enabled: false
"""

EARLIER_CONCURRENCY = (
    """\
# DuckDB allows one writing process per file: the steps that write take the `warehouse` pool,
# and one step of that pool runs at a time across every run of this instance. Up to four runs
# may be in progress at once (the others wait in the queue); their writing steps take turns.
# One run of a month at a time: a second run of the same month waits in the queue until the
# first has finished (`cityindex materialize` refuses to start beside one, and says which).
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  pools:
    default_limit: 1
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: dagster/partition
        value:
          applyLimitPerUniqueValue: true
        limit: 1
telemetry:
  enabled: false
""",
    """\
# DuckDB allows one writing process per file: the steps that write take the `warehouse` pool,
# and one step of that pool runs at a time across every run of this instance. Up to four runs
# may be in progress at once (the others wait in the queue); their writing steps take turns.
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  pools:
    default_limit: 1
  runs:
    max_concurrent_runs: 4
telemetry:
  enabled: false
""",
)
"""What earlier versions wrote: a file still holding one of these is ours to update, not a hand edit."""

DAGSTER_YAML = (
    "# Written by cityindex on first use (embedded instance: SQLite under DAGSTER_HOME); edit freely,\n"
    "# it is not overwritten.\n" + CONCURRENCY
)

_POSTGRES_URL_STORAGE = f"""\
storage:
  postgres:
    postgres_url:
      env: {POSTGRES_URL_VARIABLE}
"""

_POSTGRES_PARTS_STORAGE = """\
storage:
  postgres:
    postgres_db:
      hostname:
        env: DAGSTER_PG_HOST
      username:
        env: DAGSTER_PG_USER
      password:
        env: DAGSTER_PG_PASSWORD
      db_name:
        env: DAGSTER_PG_DB
      port:
        env: DAGSTER_PG_PORT
      scheme: postgresql+psycopg2
"""

_POSTGRES_HEADER = (
    "# Written by cityindex on first use (production instance: run, event-log and schedule storage\n"
    "# in PostgreSQL, connection read from the environment at start-up); edit freely, it is not overwritten.\n"
)
POSTGRES_URL_YAML = _POSTGRES_HEADER + _POSTGRES_URL_STORAGE + CONCURRENCY
POSTGRES_PARTS_YAML = _POSTGRES_HEADER + _POSTGRES_PARTS_STORAGE + CONCURRENCY
GENERATED = (
    DAGSTER_YAML,
    POSTGRES_URL_YAML,
    POSTGRES_PARTS_YAML,
    *(
        header + storage + earlier
        for earlier in EARLIER_CONCURRENCY
        for header, storage in (
            (DAGSTER_YAML.removesuffix(CONCURRENCY), ""),
            (_POSTGRES_HEADER, _POSTGRES_URL_STORAGE),
            (_POSTGRES_HEADER, _POSTGRES_PARTS_STORAGE),
        )
    ),
)


def instance_kind(environ: Mapping[str, str] | None = None) -> str:
    """`postgres` when a PostgreSQL connection is configured, else `embedded`."""
    env = os.environ if environ is None else environ
    if dagster_postgres_url_from_env(env) is not None or env.get("DAGSTER_PG_HOST"):
        return "postgres"
    return "embedded"


def dagster_yaml(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    # The URL is checked where it is read; the file names the variable, never the URL.
    if dagster_postgres_url_from_env(env) is not None:
        return POSTGRES_URL_YAML
    if env.get("DAGSTER_PG_HOST"):
        missing = [name for name in PG_VARIABLES if not env.get(name)]
        if missing:
            raise ValueError(f"DAGSTER_PG_HOST is set but {', '.join(missing)} is not")
        return POSTGRES_PARTS_YAML
    return DAGSTER_YAML


def ensure_dagster_home(settings: Settings) -> str:
    """Create DAGSTER_HOME with its dagster.yaml if missing, export it, and return its path.

    A dagster.yaml we wrote ourselves follows the configuration (embedded or postgres); one edited
    by hand is left as it is.
    """
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = dagster_yaml()
    current = config.read_text(encoding="utf-8") if config.exists() else None
    if current is None or (current in GENERATED and current != wanted):
        config.write_text(wanted, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return str(home)
