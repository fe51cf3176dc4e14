"""A real Dagster webserver and daemon on 127.0.0.1, on the embedded or the PostgreSQL instance.

On PostgreSQL they run as `cityindex dev` (`dagster dev`) runs them. On the embedded instance they
run as a production deployment runs them, `dagster-webserver` and `dagster-daemon run` in processes
of their own, and the daemon is killed (SIGKILL) in the middle of the backfill and started again:
the backfill must still complete.

The PostgreSQL instance needs `CITYINDEX_TEST_POSTGRES_URL`, a `postgresql+psycopg2://` URL of a role
that may create databases; each session gets a database of its own, dropped at the end. Without it
the PostgreSQL tests are skipped, saying so (`.ci/run` always sets it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cityindex_pipeline.backfill import DagsterWebserver, Progress
from cityindex_pipeline.months import Month

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
    daemon: subprocess.Popen | None = None
    """The daemon's own process, when it runs apart from the webserver (the embedded instance)."""
    process_env: dict[str, str] | None = None

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
    months: list[Month]
    daemon_killed_at: float | None = None
    """Wall-clock time at which the daemon was killed mid-backfill (then started again), if it was."""
    progress_when_killed: Progress | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as output:
        return subprocess.Popen(
            args, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _write_instance_config(env: dict[str, str]) -> None:
    """The instance's dagster.yaml and its storage, made before two processes start on it: each
    would otherwise create the SQLite tables at once and one fails ("table alembic_version already
    exists"). `dagster dev` does the same before it starts its two; a deployment runs `dagster
    instance migrate` first."""
    import dagster as dg

    from cityindex_pipeline.config import settings_from_env
    from cityindex_pipeline.instance import ensure_dagster_home

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]  # not one an earlier test of this worker left
    try:
        with dg.DagsterInstance.from_config(ensure_dagster_home(settings_from_env(env))):
            pass
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def start_daemon(env: dict[str, str], log: Path) -> subprocess.Popen:
    daemon = Path(sys.executable).with_name("dagster-daemon")
    return _spawn([str(daemon), "run", "-w", str(WORKSPACE)], env, log)


def kill_and_restart_daemon(dagster: RunningDagster) -> None:
    """SIGKILL the daemon process alone (a crash: no shutdown of its own), then start a new one. Runs
    already launched go on in their code server, which outlives its parent until they finish."""
    assert dagster.daemon is not None and dagster.process_env is not None
    dagster.daemon.send_signal(signal.SIGKILL)
    dagster.daemon.wait(timeout=30)
    dagster.daemon = start_daemon(dagster.process_env, dagster.log)


def _start(kind: str, root: Path) -> Iterator[RunningDagster]:
    home = root / "home"
    dagster_home = home / "dagster"
    env = {"CITYINDEX_HOME": str(home), "DAGSTER_HOME": str(dagster_home), "CITYINDEX_SOURCE": "simulated"}
    drop = None
    if kind == "postgres":
        admin = os.environ.get(POSTGRES_VARIABLE)
        if not admin:
            pytest.skip(f"{POSTGRES_VARIABLE} is not set: no PostgreSQL server to run the instance on")
        url, drop = _postgres_database(admin)
        env["CITYINDEX_DAGSTER_POSTGRES_URL"] = url
    port = free_port()
    log = root / "dagster.log"
    process_env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_PG_", "CITYINDEX_"))}
    process_env.pop("DAGSTER_HOME", None)
    process_env.update(env)
    bin_dir = Path(sys.executable).parent
    daemon = None
    if kind == "postgres":
        process = _spawn([str(bin_dir / "cityindex"), "dev", "--port", str(port)], process_env, log)
    else:
        _write_instance_config(env)
        process = _spawn(
            [str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(WORKSPACE)],
            process_env,
            log,
        )
        daemon = start_daemon(process_env, log)
    running = None
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            for child in (process, daemon):
                if child is not None and child.poll() is not None:
                    raise RuntimeError(f"Dagster exited:\n{log.read_text(errors='replace')[-4000:]}")
            try:
                if httpx.get(f"{url}/server_info", timeout=5).status_code == 200:
                    DagsterWebserver(url).asset_keys()  # the code location has loaded
                    break
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(1)
        running = RunningDagster(kind, url, home, dagster_home, env, log, daemon, process_env)
        yield running
    finally:
        for child in (running.daemon if running else daemon, process):
            if child is not None:
                _stop(child)
        if drop is not None:
            drop()


@pytest.fixture(scope="session", params=["embedded", "postgres"])
def backfilled(request, tmp_path_factory) -> Iterator[Backfilled]:
    """A dagster dev on each kind of instance, with a backfill of BACKFILL_MONTHS launched and finished."""
    root = tmp_path_factory.mktemp(f"dagster-{request.param}")
    for dagster in _start(request.param, root):
        started = time.monotonic()
        backfill_id = dagster.server.launch_backfill(BACKFILL_MONTHS, title="system test")
        killed_at, when_killed = None, None
        if dagster.daemon is not None:
            when_killed = _wait_for_some_progress(dagster, backfill_id)
            killed_at = time.time()
            kill_and_restart_daemon(dagster)
        progress = dagster.server.wait(backfill_id, timeout=900)
        yield Backfilled(
            dagster,
            backfill_id,
            progress,
            time.monotonic() - started,
            BACKFILL_MONTHS,
            killed_at,
            when_killed,
        )


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
