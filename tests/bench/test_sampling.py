"""The stack sampler's attribution: the wait for the expectation engine is Great Expectations', a
wait for a chart drawer is ours."""

from __future__ import annotations

import sys
import threading

import polars as pl

from benchmarks.sampling import _owner
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.quality import engine, suites


def test_waiting_for_the_expectation_engine_counts_as_great_expectations():
    engine.start()
    try:
        frame = pl.DataFrame({"post_id": ["a"]})
        suite = suites.posts_suite(Month(2024, 9))[:1]
        seen: list[str] = []
        done = threading.Event()

        def validate() -> None:
            try:
                engine.validate(frame, suite, "clean_posts")
            except Exception:
                pass
            finally:
                done.set()

        worker = threading.Thread(target=validate)
        worker.start()
        while not done.wait(0.005):
            stack = sys._current_frames().get(worker.ident)
            if stack is not None:
                seen.append(_owner(stack))
        worker.join()
        assert "great_expectations" in seen, seen
    finally:
        engine.stop()
