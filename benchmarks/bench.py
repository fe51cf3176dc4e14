"""`cityindex bench`: how fast the pipeline is, how much memory it takes, and against what.

Each scale runs in its own process (`python -m benchmarks.bench --scale k`), in a scratch
CITYINDEX_HOME, so its peak resident memory is its own. Scale k registers k copies of every account
(derived handles and ids; the simulator seeds a document from its handle, so every copy posts its own
month): k times the accounts and about k times the posts. The shipped registry files are untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.backfill import BACKFILL_MONTHS, measure_backfill
from benchmarks.extract_floor import extract_and_write_floor
from benchmarks.floors import parse_floor, raw_to_clean, stored_floor, verify_floor
from benchmarks.sampling import StackSampler, median_seconds
from benchmarks.scale import bench_settings, registry_scaled
from benchmarks.stages import fixed_share, stage_seconds, step_seconds_of_run
from benchmarks.summary import targets
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.quality import engine
from cityindex_pipeline.report import rendering

BENCH_MONTH = Month(2024, 9)


# --- the measurements of one scale -------------------------------------------------------------------


def end_to_end(settings: Settings, month: Month) -> tuple[float, dict[str, float], bool, dict[str, Any]]:
    """One month through every asset, check and publication of the monthly job, in process: its
    seconds, the sampled shares of Dagster, GX and ours, success, and its stages (`stages.py`)."""
    import dagster as dg

    from cityindex_pipeline.cli.runner import materialize_month

    start = time.perf_counter()
    with StackSampler() as sampler:
        run = materialize_month(settings, month, printer=lambda _line: None)
    wall = time.perf_counter() - start
    with dg.DagsterInstance.get() as instance:
        steps = step_seconds_of_run(instance, run.run_id)
    stages = stage_seconds(steps, wall, simulator_seconds(settings, month))
    return wall, sampler.shares(), run.success, stages


def simulator_seconds(settings: Settings, month: Month) -> float:
    """The simulator inventing the month's documents for the registered accounts, as the raw steps
    call it, timed apart (its documents are not stored)."""
    from cityindex_pipeline.reference.snapshots import registered_accounts
    from cityindex_pipeline.sources.simulated import SimulatedSource
    from cityindex_pipeline.warehouse.store import Warehouse

    store, source = Warehouse(settings.warehouse_path), SimulatedSource(settings.seed)
    with store.session():
        accounts = {platform: registered_accounts(store, month, platform) for platform in PLATFORMS}
    start = time.perf_counter()
    for platform in PLATFORMS:
        for _document in source.pull(month, platform, accounts[platform]):
            pass
    return time.perf_counter() - start


def index_run(settings: Settings, month: Month) -> dict[str, Any]:
    """Clean metrics and posts through indicators, platform indices, comprehensive index and the
    uncertainty and sensitivity analysis (the methodology's runs, timed on their own too), by the
    functions the assets call."""
    from benchmarks.ours import index_month
    from cityindex_pipeline.method.config import load_methodology
    from cityindex_pipeline.method.uncertainty import simulate_uncertainty
    from cityindex_pipeline.warehouse.store import Warehouse

    store = Warehouse(settings.warehouse_path)
    methodology = load_methodology()
    with store.session():
        metrics = store.read_month("clean.account_metrics", month)
        posts = store.read_month("clean.posts", month)
        cities = store.read_month("clean.registry_cities", month)
        weights = store.read_month("idx.platform_weights", month)
        qualitative = store.read_month("idx.qualitative_scores", month)
        empty_platform = store.read_month("idx.platform_index", month.previous())
        empty_comprehensive = store.read_month("idx.comprehensive_index", month.previous())
    start = time.perf_counter()
    long, _scores = index_month(
        metrics, posts, cities, weights, qualitative, empty_platform, empty_comprehensive, month, methodology
    )
    uncertainty_start = time.perf_counter()
    intervals, sensitivity = simulate_uncertainty(
        long, weights, qualitative, cities["city_id"].to_list(), methodology
    )
    end = time.perf_counter()
    runs = sensitivity["model_runs"][0] if "model_runs" in sensitivity.columns else None
    return {
        "seconds": end - start,
        "uncertainty_seconds": end - uncertainty_start,
        "model_runs": None if runs is None else int(runs),
        "city_platforms": long.select("platform", "city_id").unique().height,
        "draws": int(intervals["draws"][0]),
    }


def trace_latency(settings: Settings, month: Month, repeat: int) -> float:
    from cityindex_pipeline.audit.trace import trace_city
    from cityindex_pipeline.warehouse.store import Warehouse

    store = Warehouse(settings.warehouse_path)
    return median_seconds(lambda: trace_city(store, "Beijing", month), repeat)[0]


def verify_latency(settings: Settings, month: Month, repeat: int) -> float | None:
    """What `cityindex verify` does: heal, check every version's export, recompute the latest."""
    from cityindex_pipeline.cli.recompute import verify_month
    from cityindex_pipeline.warehouse.store import Warehouse

    store = Warehouse(settings.warehouse_path)
    return median_seconds(lambda: verify_month(settings, store, month, None), repeat)[0]


def measure_scale(scale: int, repeat: int, home_root: Path) -> dict[str, Any]:
    """Every figure of the pipeline at a scale, medians over `repeat` (each end-to-end repeat in a
    fresh home under `home_root`; the last is left for the floors and the peers). This process runs nothing of the
    floors or the peers, so its peak resident memory is the pipeline's."""
    result: dict[str, Any] = {"scale": scale, "repeat": repeat, "month": BENCH_MONTH.partition_key}
    with registry_scaled(scale):
        runs = []
        for i in range(repeat):
            settings = bench_settings(home_root / f"home-{i}")
            runs.append(end_to_end(settings, BENCH_MONTH))
        seconds = statistics.median(r[0] for r in runs)
        shares = {who: statistics.median(r[1][who] for r in runs) for who in runs[0][1]}
        result["end_to_end"] = {
            "seconds": seconds,
            "spread": [min(r[0] for r in runs), max(r[0] for r in runs)],
            "success": all(r[2] for r in runs),
            "dagster_seconds": seconds * shares["dagster"],
            "great_expectations_seconds": seconds * shares["great_expectations"],
            "ours_seconds": seconds * shares["ours"],
            "framework_share": shares["dagster"] + shares["great_expectations"],
        }
        result["stages"] = _median_stages([r[3] for r in runs])
        result["home"] = str(home_root / f"home-{repeat - 1}")
        settings = bench_settings(home_root / f"home-{repeat - 1}")

        clean_runs = [raw_to_clean(settings, BENCH_MONTH) for _ in range(repeat)]
        clean_seconds = statistics.median(r["seconds"] for r in clean_runs)
        steps = result["stages"]["stages"]
        first = clean_runs[0]
        result["raw_to_clean"] = {
            "seconds": clean_seconds,
            "in_memory_seconds": statistics.median(r["in_memory_seconds"] for r in clean_runs),
            "documents": first["documents"],
            "megabytes": first["bytes"] / 1e6,
            "posts": first["posts"],
            "accounts": first["accounts"],
            "posts_per_second": first["posts"] / clean_seconds,
            "written_seconds": steps["clean"] + steps["metrics"],
        }
        del clean_runs

        index_runs = [index_run(settings, BENCH_MONTH) for _ in range(repeat)]
        index_seconds = statistics.median(r["seconds"] for r in index_runs)
        result["index"] = {
            "seconds": index_seconds,
            "city_platforms": index_runs[0]["city_platforms"],
            "draws": index_runs[0]["draws"],
            "city_platforms_per_second": index_runs[0]["city_platforms"] / index_seconds,
            "uncertainty_seconds": statistics.median(r["uncertainty_seconds"] for r in index_runs),
            "model_runs": index_runs[0]["model_runs"],
        }
        result["audit"] = {
            "trace_seconds": trace_latency(settings, BENCH_MONTH, repeat),
            "verify_seconds": verify_latency(settings, BENCH_MONTH, repeat),
        }
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # the expectation engine (Great Expectations in its own process) and the chart drawers are the
    # pipeline's too
    result["engine_peak_rss_mib"] = engine.peak_rss_mib() or 0.0
    result["drawers_peak_rss_mib"] = rendering.drawers_peak_rss_mib() or 0.0
    result["pipeline_peak_rss_mib"] = (
        result["peak_rss_mib"] + result["engine_peak_rss_mib"] + result["drawers_peak_rss_mib"]
    )
    return result


def _median_stages(measured: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each stage's seconds over the repeats (and of the simulator and the wall)."""
    stages = {name: statistics.median(m["stages"][name] for m in measured) for name in measured[0]["stages"]}
    return {
        "stages": stages,
        **{key: statistics.median(m[key] for m in measured) for key in ("simulator_seconds", "wall_seconds")},
        "ours_seconds": statistics.median(m["ours_seconds"] for m in measured),
    }


def measure_floors(home: Path, repeat: int) -> dict[str, Any]:
    """The floors of raw → clean and of verify on the month stored in `home`, in a process of their
    own: DuckDB takes what memory it is allowed, which must not count as the pipeline's peak."""
    from cityindex_pipeline.warehouse.store import Warehouse

    settings = bench_settings(home)
    store = Warehouse(settings.warehouse_path)
    with store.session():
        documents = {platform: store.raw_documents(BENCH_MONTH, platform) for platform in PLATFORMS}
    in_memory = statistics.median(parse_floor(documents) for _ in range(repeat))
    del documents
    stored = statistics.median(stored_floor(settings, BENCH_MONTH) for _ in range(repeat))
    extract = [extract_and_write_floor(settings.warehouse_path, BENCH_MONTH) for _ in range(repeat)]
    verify = [verify_floor(settings, BENCH_MONTH) for _ in range(repeat)]
    return {
        "verify_floor_seconds": statistics.median(r["seconds"] for r in verify),
        "verify_floor_altered_documents": verify[0]["altered_documents"],
        "floor_seconds": stored,
        "in_memory_floor_seconds": in_memory,
        "extract_floor_seconds": statistics.median(r["seconds"] for r in extract),
        "extract_floor_differing_rows": extract[0]["differing_rows"],
        "floors_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def with_floors(clean: dict[str, Any], floors: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's raw → clean figures beside its floors, and the ratios to them."""
    return {
        **clean,
        **floors,
        "floor_posts_per_second": clean["posts"] / floors["floor_seconds"],
        "ratio_to_floor": clean["seconds"] / floors["floor_seconds"],
        "in_memory_ratio_to_floor": clean["in_memory_seconds"] / floors["in_memory_floor_seconds"],
        "ratio_to_extract_floor": clean["written_seconds"] / floors["extract_floor_seconds"],
        "ratio_to_parse_floor": clean["written_seconds"] / floors["floor_seconds"],
    }


def measure_peers(home: Path, repeat: int) -> dict[str, Any]:
    """Ours against the pandas and SQL peers on the month stored in `home` (`peers.compare`)."""
    from benchmarks.peers import compare, load_inputs

    inputs = load_inputs(bench_settings(home), BENCH_MONTH)
    return compare(inputs, repeat)


def measure_peak(home: Path, who: str) -> dict[str, Any]:
    """One contender's peak memory, alone in this process (`peers.peak_of`)."""
    from benchmarks.peers import load_inputs, peak_of

    return peak_of(who, load_inputs(bench_settings(home), BENCH_MONTH))


# --- the parent: one process per scale, a table and JSON ------------------------------------------


def _child(arguments: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cityindex-bench-out-") as out:
        path = Path(out) / "result.json"
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "CITYINDEX_HOME")}
        subprocess.run(
            [sys.executable, "-m", "benchmarks.bench", *arguments, "--out", str(path)],
            check=True,
            env=env,
        )
        return json.loads(path.read_text(encoding="utf-8"))


def measure(scale: int, repeat: int) -> dict[str, Any]:
    """A scale's figures, each part in a process of its own: the pipeline (its peak memory alone),
    ours against the peers alternating, then each contender's peak memory alone."""
    from benchmarks.peers import CONTENDERS

    with tempfile.TemporaryDirectory(prefix="cityindex-bench-") as scratch:
        result = _child(["--scale", str(scale), "--repeat", str(repeat), "--home-root", scratch])
        home = result.pop("home")
        floors = _child(["--floors", "--home", home, "--repeat", str(repeat)])
        result["audit"] |= {
            "verify_floor_seconds": floors.pop("verify_floor_seconds"),
            "verify_floor_altered_documents": floors.pop("verify_floor_altered_documents"),
        }
        result["raw_to_clean"] = with_floors(result["raw_to_clean"], floors)
        result["peers"] = _child(["--peers", "--home", home, "--repeat", str(repeat)])
        result["peaks_mib"] = {who: _child(["--peak", who, "--home", home]) for who in CONTENDERS}
    return result


def run_bench(
    scales: list[int],
    repeat: int,
    backfill_months: int = len(BACKFILL_MONTHS),
    backfill_scales: tuple[int, ...] = (1, 10),
    backfill_repeat: int = 1,
) -> dict[str, Any]:
    results = [measure(scale, repeat) for scale in scales]
    by_scale = {r["scale"]: r for r in results}
    for r in results:
        small = by_scale.get(1)
        r["fixed_share"] = (
            fixed_share(small["stages"], r["stages"], r["scale"])
            if small is not None and r["scale"] > 1
            else None
        )
    backfill = (
        _child(
            [
                "--backfill",
                str(backfill_months),
                "--backfill-scale",
                ",".join(map(str, backfill_scales)),
                "--backfill-repeat",
                str(backfill_repeat),
            ]
        )
        if backfill_months
        else None
    )
    report = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load": os.getloadavg()},
        "scales": results,
        "backfill": backfill,
    }
    report["targets"] = targets(report)
    return report


def _main() -> None:
    parser = argparse.ArgumentParser(description="one part of `cityindex bench`, in its own process")
    parser.add_argument("--scale", type=int)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--home-root", type=Path)
    parser.add_argument("--peers", action="store_true")
    parser.add_argument("--floors", action="store_true")
    parser.add_argument("--peak", choices=("ours", "pandas", "sql"))
    parser.add_argument("--home", type=Path)
    parser.add_argument("--backfill", type=int)
    parser.add_argument("--backfill-scale", default="1")
    parser.add_argument("--backfill-repeat", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.backfill:
        months = tuple(Month.range(BACKFILL_MONTHS[0], BACKFILL_MONTHS[0].shift(args.backfill - 1)))
        scales = tuple(int(part) for part in args.backfill_scale.split(","))
        result = measure_backfill(months, scales, args.backfill_repeat)
    elif args.peers:
        result = measure_peers(args.home, args.repeat)
    elif args.floors:
        result = measure_floors(args.home, args.repeat)
    elif args.peak:
        result = measure_peak(args.home, args.peak)
    else:
        result = measure_scale(args.scale, args.repeat, args.home_root)
    Path(args.out).write_text(json.dumps(result, default=str), encoding="utf-8")


if __name__ == "__main__":
    _main()
