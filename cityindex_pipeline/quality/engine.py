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

The child is a helper process (`core/helper_process.py`: a fresh `python -m` process, a socket pair,
requests and answers pickled). The engine's work is Great Expectations': a profiler should count
the wait for it as such (`ENGINE_WAIT`).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import TYPE_CHECKING

from cityindex_pipeline.core.helper_process import HelperProcess, serve

if TYPE_CHECKING:
    import polars as pl

    from cityindex_pipeline.quality.findings import Finding
    from cityindex_pipeline.quality.suites import Expectation

LOGGER = logging.getLogger("cityindex.quality")
ENGINE_WAIT = "_await_findings"
"""The function in which this process waits for the engine (for profilers attributing time)."""


class _Engine(HelperProcess):
    """The child process (this module run with `-m`) and the socket pair to it."""

    def __init__(self) -> None:
        super().__init__(__name__)

    def validate(self, frame: pl.DataFrame, suite: list[Expectation], name: str) -> dict[str, Finding]:
        with self.lock:
            self.send((frame, suite, name))
            return _await_findings(self)


def _await_findings(engine: _Engine) -> dict[str, Finding]:
    return engine.receive()


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
    return _ENGINE is not None and _ENGINE.alive()


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


def _validate(request: tuple[pl.DataFrame, list[Expectation], str]) -> dict[str, Finding]:
    from cityindex_pipeline.quality import suites

    return suites.validate(*request)


def _import_great_expectations() -> None:
    from cityindex_pipeline.quality import suites

    suites.import_great_expectations()


if __name__ == "__main__":
    serve(_validate, prepare=_import_great_expectations)
