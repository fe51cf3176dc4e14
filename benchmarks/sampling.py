"""Where the time goes: a sampler of the main thread's stack that attributes each sample to Dagster,
Great Expectations or our own code, and the median of repeated timings."""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from cityindex_pipeline.quality.engine import ENGINE_WAIT

SAMPLE_SECONDS = 0.005
OURS = ("cityindex_pipeline", "assets", "checks")
ENGINE_MODULE = "cityindex_pipeline.quality.engine"
HELPER_MODULE = "cityindex_pipeline.core.helper_process"
"""The mechanism of helper processes: a wait in it is its caller's (the expectation engine's is GX's)."""


class StackSampler:
    """Samples the main thread's stack every few milliseconds and attributes each sample to the
    innermost frame that belongs to Dagster, Great Expectations or our own modules: libraries called
    by Dagster (sqlite, logging) count as Dagster, those called by our code (polars, DuckDB) as ours."""

    def __init__(self, interval: float = SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.counts: Counter[str] = Counter()
        self._target = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StackSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            frame = sys._current_frames().get(self._target)
            self.counts[_owner(frame)] += 1

    def shares(self) -> dict[str, float]:
        total = sum(self.counts.values()) or 1
        return {who: self.counts[who] / total for who in ("dagster", "great_expectations", "ours")}


def _owner(frame: Any) -> str:
    while frame is not None:
        module = frame.f_globals.get("__name__", "") or ""
        top = module.split(".", 1)[0]
        if module == HELPER_MODULE:
            frame = frame.f_back
            continue
        if top == "dagster" or top.startswith("dagster_"):
            return "dagster"
        if top == "great_expectations":
            return "great_expectations"
        if module == ENGINE_MODULE and frame.f_code.co_name == ENGINE_WAIT:
            return "great_expectations"  # waiting for the expectation engine's process: its work is GX's
        if top in OURS and module != __name__:
            return "ours"
        frame = frame.f_back
    return "ours"


def median_seconds(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result
