"""The Dagster webserver and daemon of one `CITYINDEX_HOME`, in processes of their own, as a
deployment runs them: the storage is created (migrated) first, then `dagster-webserver` and
`dagster-daemon run` start on it, both loading `workspace.yaml`.

Used by the benchmark's backfill (through the run queue and the daemon, as the UI launches one) and
by the system tests, which also kill the daemon mid-backfill and start it again. `cityindex dev`
starts both in one process instead, through `dg dev` (`exec_dev`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx

from cityindex_pipeline.cli.webserver import DagsterWebserver
from cityindex_pipeline.core.variables import FILES_URL_VARIABLE

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = PROJECT_ROOT / "workspace.yaml"
STARTUP_SECONDS = 180.0


class ServicesError(RuntimeError):
    """The webserver or the daemon exited or did not come up; the message ends with their log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_environment(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for services of `home`: its own CITYINDEX_HOME and DAGSTER_HOME,
    none of the caller's other CITYINDEX_ or DAGSTER_PG_ settings (so the defaults: the simulated
    source, the embedded instance), then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_PG_", "CITYINDEX_"))}
    env.update({"CITYINDEX_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")})
    env.update(extra or {})
    return env


def migrate_instance(env: Mapping[str, str]) -> None:
    """Write the instance's dagster.yaml and create its storage before two processes open it: both
    would otherwise create the SQLite tables at once and one fails ("table alembic_version already
    exists"). The same as `dagster instance migrate` before a deployment starts."""
    import dagster as dg

    from cityindex_pipeline.cli.instance import ensure_dagster_home
    from cityindex_pipeline.core.settings import settings_from_env

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]  # ensure_dagster_home prefers the environment's
    try:
        with dg.DagsterInstance.from_config(ensure_dagster_home(settings_from_env(dict(env)))):
            pass
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def spawn(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen:
    """A process in a session of its own (so that stopping it stops its children), output to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            args, env=dict(env), stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen, grace_seconds: float = 30) -> None:
    """SIGTERM the process's group, SIGKILL it after `grace_seconds`."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _executable(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def start_daemon(env: Mapping[str, str], log: Path, workspace: Path = WORKSPACE) -> subprocess.Popen:
    return spawn([_executable("dagster-daemon"), "run", "-w", str(workspace)], env, log)


def start_webserver(
    env: Mapping[str, str], log: Path, port: int, workspace: Path = WORKSPACE
) -> subprocess.Popen:
    args = [_executable("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)]
    return spawn(args, env, log)


def dev_arguments(port: int) -> list[str]:
    """`dg dev` on 127.0.0.1:`port`: the dg project of `pyproject.toml` (`[tool.dg]`) where the source
    tree is, else the code location's module of the installed package."""
    args = [_executable("dg"), "dev", "-h", "127.0.0.1", "-p", str(port)]
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return [*args, "--target-path", str(PROJECT_ROOT)]
    return [*args, "-m", "cityindex_pipeline.definitions"]


def start_file_server(home: Path, port: int) -> str:
    """The read-only server of `home`'s reports and exports (`file_server.py`) on 127.0.0.1:`port`, in
    this process group (Ctrl-C stops it with the UI; it also ends when its parent does); its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cityindex_pipeline.cli.file_server", str(home), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    process.stdout.close()
    if not url.startswith("http://"):
        process.wait()
        raise ServicesError(
            f"the file server did not start on 127.0.0.1:{port} (see above): choose another port "
            "with --files-port, or --files-port 0 for none"
        )
    return url


def exec_dev(port: int, files_of: Path | None = None, files_port: int = 0) -> NoReturn:
    """Replace this process by `dg dev` (the UI and the daemon in one process), with this process's
    environment: DAGSTER_HOME as the caller set it, and this interpreter's environment as the active
    one (dg compares it with the project's `.venv`). With `files_of`, the file server of that home's
    reports and exports starts first, and the runs of the UI and daemon link their files on it."""
    if files_of is not None:
        url = start_file_server(files_of, files_port)
        os.environ[FILES_URL_VARIABLE] = url
        print(f"reports and exports: {url}", flush=True)
    args = dev_arguments(port)
    os.execve(args[0], args, {**os.environ, "VIRTUAL_ENV": sys.prefix})


def _log_tail(log: Path, characters: int = 4000) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-characters:] if log.exists() else ""


def wait_until_loaded(url: str, processes: list[subprocess.Popen], log: Path, timeout: float) -> None:
    """Until the webserver answers and its code location has loaded (it lists the assets)."""
    deadline = time.monotonic() + timeout
    while True:
        for process in processes:
            if process.poll() is not None:
                raise ServicesError(f"Dagster exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            if httpx.get(f"{url}/server_info", timeout=5).status_code == 200:
                DagsterWebserver(url).asset_keys()
                return
        except (httpx.HTTPError, RuntimeError):
            pass
        if time.monotonic() > deadline:
            raise ServicesError(
                f"Dagster did not load its code location in {timeout:.0f} s:\n{_log_tail(log)}"
            )
        time.sleep(1)


@dataclass
class Services:
    """A running webserver and daemon; `daemon` is replaced when it is restarted."""

    url: str
    env: dict[str, str]
    log: Path
    webserver: subprocess.Popen
    daemon: subprocess.Popen
    workspace: Path = WORKSPACE

    @property
    def server(self) -> DagsterWebserver:
        return DagsterWebserver(self.url)

    def kill_and_restart_daemon(self) -> None:
        """SIGKILL the daemon alone (a crash: no shutdown of its own), then start a new one. Runs
        already launched go on in their code server, which outlives its parent until they finish."""
        self.daemon.send_signal(signal.SIGKILL)
        self.daemon.wait(timeout=30)
        self.daemon = start_daemon(self.env, self.log, self.workspace)


@contextmanager
def running_services(
    env: Mapping[str, str], log: Path, port: int | None = None, workspace: Path = WORKSPACE
) -> Iterator[Services]:
    """Migrate the instance, start the webserver and the daemon on 127.0.0.1 (loading `workspace`,
    the project's own by default), wait until the code location is loaded; stop both on exit."""
    migrate_instance(env)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    webserver = start_webserver(env, log, port, workspace)
    daemon = start_daemon(env, log, workspace)
    services = Services(url, dict(env), log, webserver, daemon, workspace)
    try:
        wait_until_loaded(url, [webserver, daemon], log, STARTUP_SECONDS)
        yield services
    finally:
        stop(services.daemon)
        stop(webserver)
