"""A real `dagster dev` (webserver and daemon) on 127.0.0.1, on the embedded or the PostgreSQL instance.

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
    log = root / "dagster-dev.log"
    process_env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_PG_", "CITYINDEX_"))}
    process_env.pop("DAGSTER_HOME", None)
    process_env.update(env)
    cli = Path(sys.executable).with_name("cityindex")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(cli), "dev", "--port", str(port)],
            env=process_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"dagster dev exited:\n{log.read_text(errors='replace')[-4000:]}")
            try:
                if httpx.get(f"{url}/server_info", timeout=5).status_code == 200:
                    DagsterWebserver(url).asset_keys()  # the code location has loaded
                    break
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(1)
        yield RunningDagster(kind, url, home, dagster_home, env, log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if drop is not None:
            drop()


@pytest.fixture(scope="session", params=["embedded", "postgres"])
def backfilled(request, tmp_path_factory) -> Iterator[Backfilled]:
    """A dagster dev on each kind of instance, with a backfill of BACKFILL_MONTHS launched and finished."""
    root = tmp_path_factory.mktemp(f"dagster-{request.param}")
    for dagster in _start(request.param, root):
        started = time.monotonic()
        backfill_id = dagster.server.launch_backfill(BACKFILL_MONTHS, title="system test")
        progress = dagster.server.wait(backfill_id, timeout=900)
        yield Backfilled(dagster, backfill_id, progress, time.monotonic() - started, BACKFILL_MONTHS)
