"""The backfill figures: months as one backfill through the webserver, daemon and run queue (processes
of their own, as a deployment runs them), against the same months by the in-process runner, at each
scale, timed one after the other in alternating order."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.scale import BENCH_SCALE_VARIABLE, bench_settings, registry_scaled
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


def daemon_backfill(home: Path, months: tuple[Month, ...], scale: int) -> dict[str, Any]:
    """The months as one backfill on a fresh instance of `home`, launched through the webserver's
    GraphQL API as the UI launches one; the daemon (a process of its own) creates the runs and the
    run queue runs them. Timed from the launch to the end of the last run (the months computed and
    published) and to the backfill's end (the daemon's next look at it, up to 30 s later)."""
    from cityindex_pipeline.cli.services import running_services, service_environment

    home.mkdir(parents=True)
    environment = service_environment(
        home,
        {
            "CITYINDEX_FIRST_MONTH": str(months[0]),
            BENCH_SCALE_VARIABLE: str(scale),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        },
    )
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
    recorded as a run of one persistent instance: the same work without queue or daemon."""
    from cityindex_pipeline.cli.runner import materialize_month

    settings = bench_settings(home, first_month=months[0])
    previous = os.environ.pop("DAGSTER_HOME", None)
    try:
        with registry_scaled(scale):
            start, results, first = time.perf_counter(), [], None
            for month in months:
                results.append(materialize_month(settings, month, printer=lambda _line: None))
                first = time.perf_counter() - start if first is None else first
            seconds = time.perf_counter() - start
    finally:
        if previous is not None:
            os.environ["DAGSTER_HOME"] = previous
    return {
        "seconds": seconds,
        "success": all(r.success for r in results),
        "seconds_to_first_publication": first,
    }


def measure_backfill(months: tuple[Month, ...], scales: tuple[int, ...] = (1,)) -> dict[str, Any]:
    """At each scale, a backfill of the months through a real instance and the same months by the
    in-process runner, each on a fresh home; the order alternates from one scale to the next."""
    figures = []
    with tempfile.TemporaryDirectory(prefix="cityindex-backfill-") as scratch:
        root = Path(scratch)
        for index, scale in enumerate(scales):
            order = ("backfill", "in_process") if index % 2 == 0 else ("in_process", "backfill")
            measured: dict[str, Any] = {}
            for kind in order:
                home = root / f"{kind}-x{scale}"
                if kind == "backfill":
                    measured[kind] = daemon_backfill(home, months, scale)
                else:
                    measured[kind] = in_process_sequence(home, months, scale)
            backfill, in_process = measured["backfill"], measured["in_process"]
            figures.append(
                {
                    "scale": scale,
                    "order": list(order),
                    "backfill": backfill,
                    "in_process": in_process,
                    "backfill_vs_in_process": backfill["seconds"] / in_process["seconds"],
                    "backfill_end_vs_in_process": backfill["seconds_to_backfill_end"] / in_process["seconds"],
                }
            )
    return {
        "months": len(months),
        "first": str(months[0]),
        "last": str(months[-1]),
        "scales": figures,
        "success": all(f["backfill"]["success"] and f["in_process"]["success"] for f in figures),
        "mode": "asset backfill through the webserver, daemon and run queue (processes of their own), "
        "one run per month in month order",
    }
