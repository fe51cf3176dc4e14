"""Great Expectations in a process of its own, imported while a run's first steps work.

`import great_expectations` takes one core 2-3 s, every process, whatever the data: in a month of
scale 1 it was a fifth of the run, all on its first validating check. A run whose plan holds a
validating check starts the engine when it starts (the Dagster resource `ExpectationsResource`),
so the import runs on another core beside the raw steps; a run that validates nothing never starts
it. Each suite is then validated there by `suites.validate`, the same function on the frame sent
whole, and its findings come back. One engine per process, kept for the runs that follow (a
backfill in process, a test session), ended with the process. If the engine cannot start, or stops,
the suite is validated in this process by the same function: the same findings, at the cost of the
import here.

The child is a fresh `python -m` process (no fork: Dagster's and DuckDB's threads would be copied
mid-flight), its end of a socket pair inherited; requests and answers are pickled over it. The
engine's work is Great Expectations': a profiler should count the wait for it as such
(`ENGINE_WAIT`).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from cityindex_pipeline.quality.findings import Finding
    from cityindex_pipeline.quality.suites import Expectation

LOGGER = logging.getLogger("cityindex.quality")
ENGINE_WAIT = "_await_findings"
"""The function in which this process waits for the engine (for profilers attributing time)."""


class _Engine:
    """The child process and this process's end of the socket pair to it."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        # the child imports this package from where this process did, installed or not
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": path},
            )
        finally:
            theirs.close()
        self.connection = Connection(ours.detach())
        self.owner = os.getpid()
        self.lock = threading.Lock()

    def validate(self, frame: pl.DataFrame, suite: list[Expectation], name: str) -> dict[str, Finding]:
        with self.lock:
            self.connection.send((frame, suite, name))
            return _await_findings(self.connection)

    def peak_rss_mib(self) -> float | None:
        """The child's peak resident memory so far (Linux), for the bench."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def close(self) -> None:
        self.connection.close()  # the child sees the end of its input and exits
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _await_findings(connection: Connection) -> dict[str, Finding]:
    outcome, value = connection.recv()
    if outcome == "error":
        raise value
    return value


_ENGINE: _Engine | None = None
_STARTING = threading.Lock()


def start() -> None:
    """Start this process's engine unless it runs; it imports Great Expectations at once."""
    global _ENGINE
    with _STARTING:
        if running():
            return
        stop()  # an engine gone, or a parent's inherited through a fork
        try:
            _ENGINE = _Engine()
        except OSError as error:
            LOGGER.warning("the expectation engine could not start (%s): validating in this process", error)
            _ENGINE = None


def running() -> bool:
    return _ENGINE is not None and _ENGINE.owner == os.getpid() and _ENGINE.process.poll() is None


def validate(frame: pl.DataFrame, suite: list[Expectation], name: str) -> dict[str, Finding]:
    """`suites.validate(frame, suite, name)`, by the engine when it runs, else in this process."""
    global _ENGINE
    from cityindex_pipeline.quality import suites

    engine = _ENGINE if running() else None
    if engine is not None:
        try:
            return engine.validate(frame, suite, name)
        except (EOFError, OSError) as error:
            LOGGER.warning(
                "the expectation engine stopped (%s): validating %s in this process",
                type(error).__name__,
                name,
            )
            _ENGINE = None
    return suites.validate(frame, suite, name)


def peak_rss_mib() -> float | None:
    """The running engine's peak resident memory, or None."""
    return _ENGINE.peak_rss_mib() if _ENGINE is not None and running() else None


@atexit.register
def stop() -> None:
    """End this process's engine, if it runs (it also ends when this process does)."""
    global _ENGINE
    if _ENGINE is not None and _ENGINE.owner == os.getpid():
        _ENGINE.close()
    _ENGINE = None


def _serve(descriptor: int) -> None:
    """The child: import Great Expectations, then validate each request until the parent hangs up."""
    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # an interrupt is the parent's to handle; its hang-up ends this
    connection = Connection(descriptor)
    from cityindex_pipeline.quality import suites

    suites.import_great_expectations()
    while True:
        try:
            frame, suite, name = connection.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, Any] = ("findings", suites.validate(frame, suite, name))
        except Exception as error:  # the parent raises it, as a validation in process would
            answer = ("error", _portable(error))
        connection.send(answer)


def _portable(error: Exception) -> Exception:
    """The error itself if it pickles, else a RuntimeError with its traceback."""
    import pickle

    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError("".join(traceback.format_exception(error)))


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
