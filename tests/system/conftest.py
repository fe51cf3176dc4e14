"""A real Dagster webserver and daemon on 127.0.0.1, on the embedded or the PostgreSQL instance.

On PostgreSQL they run as `cityindex dev` (`dg dev`) runs them. On the embedded instance they
run as a production deployment runs them, `dagster-webserver` and `dagster-daemon run` in processes
of their own, and the daemon is killed (SIGKILL) in the middle of the backfill and started again:
the backfill must still complete.

The PostgreSQL instance needs `CITYINDEX_TEST_POSTGRES_URL`, a `postgresql+psycopg2://` URL of a role
that may create databases; each session gets a database of its own, dropped at the end. Without it
the PostgreSQL tests are skipped, saying so (`.ci/run` always sets it).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cityindex_pipeline.cli.services import (
    STARTUP_SECONDS,
    Services,
    free_port,
    running_services,
    service_environment,
    spawn,
    stop,
    wait_until_loaded,
)
from cityindex_pipeline.cli.webserver import DagsterWebserver, Progress
from cityindex_pipeline.core.months import Month

POSTGRES_VARIABLE = "CITYINDEX_TEST_POSTGRES_URL"
BACKFILL_MONTHS = [Month(2024, 8), Month(2024, 9)]


@dataclass
class RunningDagster:
    kind: str
    url: str
    home: Path
    dagster_home: Path
    env: dict[str, str]
    log: Path
    services: Services | None = None
    """Webserver and daemon in processes of their own (the embedded instance), else `dg dev`."""

    @property
    def server(self) -> DagsterWebserver:
        return DagsterWebserver(self.url)

    def instance(self):
        """The same instance the server uses, opened in this process (read it, do not run on it)."""
        import dagster as dg

        previous = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            return dg.DagsterInstance.from_config(str(self.dagster_home))
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@dataclass
class Backfilled:
    dagster: RunningDagster
    backfill_id: str
    progress: Progress
    seconds: float
    """From the launch to the end of its last run."""
    months: list[Month]
    daemon_killed_at: float | None = None
    """Wall-clock time at which the daemon was killed mid-backfill (then started again), if it was."""
    progress_when_killed: Progress | None = None


def _postgres_database(admin_url: str) -> tuple[str, callable]:
    """A fresh database on the server of `admin_url`; returns its URL and a function that drops it."""
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    name = f"cityindex_test_{uuid.uuid4().hex[:10]}"
    params = {"host": url.host, "port": url.port or 5432, "user": url.username, "password": url.password}

    def execute(sql: str) -> None:
        connection = psycopg2.connect(dbname=url.database or "postgres", **params)
        connection.autocommit = True
        try:
            connection.cursor().execute(sql)
        finally:
            connection.close()

    execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False), lambda: execute(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )


@contextlib.contextmanager
def _start(kind: str, root: Path) -> Iterator[RunningDagster]:
    home = root / "home"
    log = root / "dagster.log"
    extra: dict[str, str] = {"CITYINDEX_FIRST_MONTH": str(BACKFILL_MONTHS[0])}
    drop = None
    if kind == "postgres":
        url, drop = _postgres_database(os.environ[POSTGRES_VARIABLE])
        extra["CITYINDEX_DAGSTER_POSTGRES_URL"] = url
    process_env = service_environment(home, extra)
    env = {k: v for k, v in process_env.items() if k.startswith(("CITYINDEX_", "DAGSTER_HOME"))}
    try:
        if kind == "postgres":
            with _dagster_dev(home, env, process_env, log) as dagster:
                yield dagster
        else:
            with running_services(process_env, log) as services:
                yield RunningDagster(kind, services.url, home, home / "dagster", env, log, services)
    finally:
        if drop is not None:
            drop()


@contextlib.contextmanager
def _dagster_dev(
    home: Path, env: dict[str, str], process_env: dict[str, str], log: Path
) -> Iterator[RunningDagster]:
    """`cityindex dev`: webserver and daemon under one `dg dev` process."""
    port = free_port()
    process = spawn(
        [str(Path(sys.executable).with_name("cityindex")), "dev", "--port", str(port)], process_env, log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_loaded(url, [process], log, STARTUP_SECONDS)
        yield RunningDagster("postgres", url, home, home / "dagster", env, log)
    finally:
        stop(process)


@dataclass
class _Launched:
    dagster: RunningDagster
    backfill_id: str
    launched_at: float
    """Wall-clock time of the launch (epoch seconds, as the runs' times are)."""
    killed_at: float | None = None
    progress_when_killed: Progress | None = None


@pytest.fixture(scope="session")
def _backfills(tmp_path_factory) -> Iterator[dict[str, Backfilled]]:
    """Both instances started and both backfills launched at once, then followed to the end: a
    backfill spends most of its time waiting for the daemon's ticks, so the two wait side by side."""
    kinds = ["embedded", "postgres"] if os.environ.get(POSTGRES_VARIABLE) else ["embedded"]
    with contextlib.ExitStack() as stack:
        launched: dict[str, _Launched] = {}
        for kind in kinds:
            dagster = stack.enter_context(_start(kind, tmp_path_factory.mktemp(f"dagster-{kind}")))
            launched_at = time.time()
            # the embedded one untitled, as the UI launches by default; the run coordinator titles it
            title = None if kind == "embedded" else "system test"
            backfill_id = dagster.server.launch_backfill(BACKFILL_MONTHS, title=title)
            launched[kind] = _Launched(dagster, backfill_id, launched_at)
        for run in launched.values():
            if run.dagster.services is not None:
                run.progress_when_killed = _wait_for_some_progress(run.dagster, run.backfill_id)
                run.killed_at = time.time()
                run.dagster.services.kill_and_restart_daemon()
        finished: dict[str, Backfilled] = {}
        for kind, run in launched.items():
            progress = run.dagster.server.wait(run.backfill_id, timeout=900)
            last_end = max((r.ended or 0.0) for r in run.dagster.server.runs(run.backfill_id))
            finished[kind] = Backfilled(
                run.dagster,
                run.backfill_id,
                progress,
                max(last_end - run.launched_at, 0.0),
                BACKFILL_MONTHS,
                run.killed_at,
                run.progress_when_killed,
            )
        yield finished


@pytest.fixture(scope="session", params=["embedded", "postgres"])
def backfilled(request, _backfills: dict[str, Backfilled]) -> Backfilled:
    """A dagster dev on each kind of instance, with a backfill of BACKFILL_MONTHS launched and finished."""
    if request.param not in _backfills:
        pytest.skip(f"{POSTGRES_VARIABLE} is not set: no PostgreSQL server to run the instance on")
    return _backfills[request.param]


def _wait_for_some_progress(dagster: RunningDagster, backfill_id: str, timeout: float = 600) -> Progress:
    """Until a few asset partitions are materialised and the backfill is not finished: mid-backfill."""
    deadline = time.monotonic() + timeout
    while True:
        progress = dagster.server.progress(backfill_id)
        if progress.finished:
            raise AssertionError(f"the backfill finished before the daemon could be killed: {progress}")
        if progress.materialized >= 4:
            return progress
        if time.monotonic() > deadline:
            raise AssertionError(f"no progress in {timeout:.0f} s: {progress}")
        time.sleep(1)
