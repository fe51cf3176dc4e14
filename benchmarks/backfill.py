"""The backfill figures: months as one backfill through the webserver, daemon and run queue (processes
of their own, as a deployment runs them), against the same months by the in-process runner, at each
scale, timed one after the other in alternating order."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.scale import BENCH_SCALE_VARIABLE
from cityindex_pipeline.core.months import Month

BACKFILL_MONTHS = (Month(2024, 7), Month(2024, 8), Month(2024, 9))
BACKFILL_TIMEOUT_SECONDS_PER_MONTH = 900
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _workspace(path: Path) -> Path:
    """A workspace file loading the bench's code location (`benchmarks.scaled_location`)."""
    path.write_text(
        "load_from:\n"
        "  - python_module:\n"
        "      module_name: benchmarks.scaled_location\n"
        "      location_name: cityindex\n"
        f"      working_directory: {PROJECT_ROOT}\n",
        encoding="utf-8",
    )
    return path


def _environment(home: Path, months: tuple[Month, ...], scale: int) -> dict[str, str]:
    """The environment of the bench's processes on `home`: its own homes, the months' first month of
    coverage, the scale, and this tree first on the path (`benchmarks` is not installed)."""
    from cityindex_pipeline.cli.services import service_environment

    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    extra = {"CITYINDEX_FIRST_MONTH": str(months[0]), BENCH_SCALE_VARIABLE: str(scale), "PYTHONPATH": path}
    return service_environment(home, extra)


def daemon_backfill(home: Path, months: tuple[Month, ...], scale: int) -> dict[str, Any]:
    """The months as one backfill on a fresh instance of `home`, launched through the webserver's
    GraphQL API as the UI launches one; the daemon (a process of its own) creates the runs and the
    run queue runs them. Timed from the launch to the end of the last run (the months computed and
    published) and to the backfill's end (the daemon's next look at it, seconds later: the instance's
    `backfill_daemon_interval_seconds`)."""
    from cityindex_pipeline.cli.services import running_services

    home.mkdir(parents=True)
    environment = _environment(home, months, scale)
    workspace = _workspace(home.parent / f"{home.name}-workspace.yaml")
    with running_services(
        environment, home.parent / f"{home.name}-dagster.log", workspace=workspace
    ) as services:
        launched = time.time()
        start = time.perf_counter()
        backfill_id = services.server.launch_backfill(list(months), title="cityindex bench")
        # polled every 5 s: each look computes the backfill's status in the webserver, on the same 2 cores
        progress = services.server.wait(
            backfill_id, timeout=BACKFILL_TIMEOUT_SECONDS_PER_MONTH * len(months), poll_seconds=5.0
        )
        seconds = time.perf_counter() - start
        runs = services.server.runs(backfill_id)
    ends = sorted(r.ended for r in runs if r.ended is not None)
    starts = sorted(r.started for r in runs if r.started is not None)
    run_seconds = [r.seconds for r in runs if r.seconds is not None]
    return {
        "seconds": ends[-1] - launched if ends else seconds,
        "seconds_to_backfill_end": seconds,
        # each run is one whole month, its publication and report its last steps
        "seconds_to_first_publication": ends[0] - launched if ends else None,
        "seconds_to_first_run": starts[0] - launched if starts else None,
        "success": progress.succeeded and len(runs) == len(months),
        "runs": len(runs),
        "run_seconds_total": sum(run_seconds),
        "run_seconds_median": statistics.median(run_seconds) if run_seconds else None,
    }


def in_process_sequence(home: Path, months: tuple[Month, ...], scale: int) -> dict[str, Any]:
    """The months one after the other by the in-process runner (`cityindex materialize --to`), each
    recorded as a run of one persistent instance: the same work without queue or daemon. In a fresh
    process (`benchmarks.months_in_process`), timed from its start to its exit, as a user runs the
    command: its one start and imports are counted, as each backfill run's are. Its Dagster instance
    exists before the clock starts, as the backfill's does (`migrate_instance`)."""
    from cityindex_pipeline.cli.services import migrate_instance

    home.mkdir(parents=True)
    environment = _environment(home, months, scale)
    # the instance is created before the clock starts, as the backfill's is before its launch
    migrate_instance(environment)
    command = [
        sys.executable,
        "-m",
        "benchmarks.months_in_process",
        str(home),
        str(months[0]),
        str(months[-1]),
        str(scale),
    ]
    launched, start = time.time(), time.perf_counter()
    done = subprocess.run(
        command,
        env=environment,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=BACKFILL_TIMEOUT_SECONDS_PER_MONTH * len(months),
    )
    seconds = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the in-process runner failed ({done.returncode}):\n{done.stderr[-4000:]}")
    reported = json.loads(lines[-1])
    return {
        "seconds": seconds,
        "success": bool(reported["success"]),
        "seconds_to_first_publication": reported["first_published_at"] - launched,
    }


def _median_figures(measurements: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over repeats (numbers), or whether every repeat had it (booleans)."""
    merged: dict[str, Any] = {}
    for key, value in measurements[0].items():
        values = [m[key] for m in measurements]
        if isinstance(value, bool):
            merged[key] = all(values)
        elif all(isinstance(v, int | float) for v in values):
            merged[key] = statistics.median(values)
        else:
            merged[key] = value
    return merged


def scale_figure(scale: int, pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """One scale's figures from its pairs: each figure the median over pairs, the ratio taken pair by
    pair (its median, not the ratio of the medians) with its least and greatest."""
    ratios = [p["backfill"]["seconds"] / p["in_process"]["seconds"] for p in pairs]
    to_end = [p["backfill"]["seconds_to_backfill_end"] / p["in_process"]["seconds"] for p in pairs]
    return {
        "scale": scale,
        "repeats": len(pairs),
        "order": [" then ".join(p["order"]) for p in pairs],
        "backfill": _median_figures([p["backfill"] for p in pairs]),
        "in_process": _median_figures([p["in_process"] for p in pairs]),
        "backfill_vs_in_process": statistics.median(ratios),
        "backfill_vs_in_process_spread": [min(ratios), max(ratios)],
        "backfill_vs_in_process_pairs": ratios,
        "backfill_end_vs_in_process": statistics.median(to_end),
        "pairs": pairs,
    }


def measure_backfill(
    months: tuple[Month, ...], scales: tuple[int, ...] = (1,), repeat: int = 1
) -> dict[str, Any]:
    """At each scale, `repeat` pairs: a backfill of the months through a real instance and the same
    months by the in-process runner, each on a fresh home, timed one after the other, the order
    alternating from one pair to the next. The ratio is taken pair by pair; its median is the
    figure, its least and greatest the spread."""
    figures = []
    with tempfile.TemporaryDirectory(prefix="cityindex-backfill-") as scratch:
        root = Path(scratch)
        pair_index = 0
        for scale in scales:
            pairs = []
            for attempt in range(repeat):
                order = ("backfill", "in_process") if pair_index % 2 == 0 else ("in_process", "backfill")
                pair_index += 1
                measured: dict[str, Any] = {}
                for kind in order:
                    home = root / f"{kind}-x{scale}-{attempt}"
                    if kind == "backfill":
                        measured[kind] = daemon_backfill(home, months, scale)
                    else:
                        measured[kind] = in_process_sequence(home, months, scale)
                pairs.append({"order": list(order), **measured})
            figures.append(scale_figure(scale, pairs))
    return {
        "months": len(months),
        "first": str(months[0]),
        "last": str(months[-1]),
        "scales": figures,
        "success": all(
            p["backfill"]["success"] and p["in_process"]["success"] for f in figures for p in f["pairs"]
        ),
        "mode": "asset backfill through the webserver, daemon and run queue (processes of their own), "
        "one run per month in month order, against `cityindex materialize --to` in a process of its own",
    }
