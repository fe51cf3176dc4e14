"""The backfill figures: months as one backfill through the webserver, daemon and run queue, against
the first month backfilled alone and the same months by the in-process runner."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.scale import bench_settings
from cityindex_pipeline.core.months import Month

BACKFILL_MONTHS = (Month(2024, 7), Month(2024, 8), Month(2024, 9))
BACKFILL_TIMEOUT_SECONDS_PER_MONTH = 600


def daemon_backfill(home: Path, months: tuple[Month, ...]) -> dict[str, Any]:
    """The months as one backfill on a fresh instance of `home`, launched through the webserver's
    GraphQL API as the UI launches one; the daemon (a process of its own) launches the runs and the
    run queue holds them. Timed from the launch to the backfill's end."""
    from cityindex_pipeline.cli.services import running_services, service_environment

    home.mkdir(parents=True)
    environment = service_environment(home, {"CITYINDEX_FIRST_MONTH": str(months[0])})
    with running_services(environment, home.parent / f"{home.name}-dagster.log") as services:
        start = time.perf_counter()
        backfill_id = services.server.launch_backfill(list(months), title="cityindex bench")
        progress = services.server.wait(backfill_id, timeout=BACKFILL_TIMEOUT_SECONDS_PER_MONTH * len(months))
        seconds = time.perf_counter() - start
        runs = services.server.runs(backfill_id)
    run_seconds = [r.seconds for r in runs if r.seconds is not None]
    return {
        "months": len(months),
        "seconds": seconds,
        "seconds_per_month": seconds / len(months),
        "success": progress.succeeded,
        "runs": len(runs),
        "run_seconds_total": sum(run_seconds),
        "run_seconds_median": statistics.median(run_seconds) if run_seconds else None,
    }


def in_process_sequence(home: Path, months: tuple[Month, ...]) -> dict[str, Any]:
    """The months one after the other by the in-process runner (`cityindex materialize --until`),
    each recorded as a run of one persistent instance: the bulk path, without queue or daemon."""
    from cityindex_pipeline.cli.runner import materialize_month

    settings = bench_settings(home, first_month=months[0])
    os.environ.pop("DAGSTER_HOME", None)
    start = time.perf_counter()
    ok = all(materialize_month(settings, m, printer=lambda _line: None).success for m in months)
    seconds = time.perf_counter() - start
    return {
        "months": len(months),
        "seconds": seconds,
        "seconds_per_month": seconds / len(months),
        "success": ok,
    }


def measure_backfill(months: tuple[Month, ...]) -> dict[str, Any]:
    """A backfill of the months through the real instance against the first month backfilled alone
    (each on a fresh instance, scale 1), and the same months by the in-process runner."""
    with tempfile.TemporaryDirectory(prefix="cityindex-backfill-") as scratch:
        root = Path(scratch)
        alone = daemon_backfill(root / "alone", months[:1])
        whole = alone if len(months) == 1 else daemon_backfill(root / "whole", months)
        sequence = in_process_sequence(root / "sequence", months)
    return {
        **whole,
        "success": whole["success"] and alone["success"] and sequence["success"],
        "one_month_alone_seconds": alone["seconds"],
        "one_month_alone_runs": alone["runs"],
        "one_month_alone_run_seconds_total": alone["run_seconds_total"],
        "per_month_vs_alone": whole["seconds_per_month"] / alone["seconds"],
        "in_process": sequence,
        "mode": "asset backfill through the webserver, daemon and run queue (processes of their own)",
    }
