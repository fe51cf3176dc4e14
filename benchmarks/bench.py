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

import polars as pl

from benchmarks.backfill import BACKFILL_MONTHS, measure_backfill
from benchmarks.sampling import StackSampler, median_seconds
from benchmarks.scale import bench_settings, registry_scaled
from benchmarks.summary import targets
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.settings import Settings

BENCH_MONTH = Month(2024, 9)


# --- the measurements of one scale -------------------------------------------------------------------


def end_to_end(settings: Settings, month: Month) -> tuple[float, dict[str, float], bool]:
    """One month through every asset, check and publication of the monthly job, in process."""
    from cityindex_pipeline.cli.runner import materialize_month

    start = time.perf_counter()
    with StackSampler() as sampler:
        run = materialize_month(settings, month, printer=lambda _line: None)
    return time.perf_counter() - start, sampler.shares(), run.success


def raw_to_clean(settings: Settings, month: Month) -> dict[str, Any]:
    """Stored raw documents to clean posts and account metrics, by the functions the assets call:
    timed from the read of the month's documents out of the warehouse, and from the parsing on."""
    from cityindex_pipeline.cleaning import account_metrics, clean_platform, profiles_of
    from cityindex_pipeline.method.config import load_methodology
    from cityindex_pipeline.warehouse.store import Warehouse

    store = Warehouse(settings.warehouse_path)
    methodology = load_methodology()
    with store.session():
        accounts = store.read_month("clean.registry_accounts", month)
        previous = store.read_month("clean.account_metrics", month.previous())
        start = time.perf_counter()
        documents = {platform: store.raw_documents(month, platform) for platform in PLATFORMS}
    parsing = time.perf_counter()
    posts = pl.concat(
        [
            clean_platform(documents[p], accounts.filter(platform=p), month, p, methodology).posts
            for p in PLATFORMS
        ]
    )
    profiles = pl.concat([profiles_of(documents[p], p) for p in PLATFORMS])
    metrics = account_metrics(posts, profiles, accounts.filter("active"), previous)
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "in_memory_seconds": end - parsing,
        "documents": sum(d.height for d in documents.values()),
        "bytes": sum(int(d["body"].str.len_bytes().sum()) for d in documents.values()),
        "posts": posts.height,
        "accounts": metrics.height,
        "documents_frames": documents,
    }


def stored_floor(settings: Settings, month: Month) -> float:
    """The floor as the issue puts it, DuckDB reading and parsing the same documents with no logic:
    one query over the month's latest pulls in the warehouse file, `json()` of every body."""
    import duckdb

    from cityindex_pipeline.warehouse.store import Warehouse

    store = Warehouse(settings.warehouse_path)
    with store.session():
        pulls = [store.latest_pull(month, platform) for platform in PLATFORMS]
    pull_ids = [pull["pull_id"] for pull in pulls if pull is not None]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        start = time.perf_counter()
        con.execute(
            "SELECT sum(length(json(body))) FROM raw.documents WHERE list_contains($ids, pull_id)",
            {"ids": pull_ids},
        ).fetchall()
        return time.perf_counter() - start


def parse_floor(documents: dict[str, pl.DataFrame]) -> float:
    """The parsing alone, documents already in memory: DuckDB's JSON parser over every body (`json()`
    parses and re-serialises each one), given the bodies in the chunks the reader gives them in, so
    that it, too, has both threads. polars' `str.json_decode` was tried and dropped: inferring one
    struct type per endpoint over every body took 14 s and 3 GiB at scale 10, no floor at all."""
    import duckdb

    from cityindex_pipeline.parsing.setwise import in_chunks

    bodies = pl.concat([frame.select("body") for frame in documents.values()])
    with duckdb.connect() as con:
        con.register("bodies", in_chunks(bodies))
        start = time.perf_counter()
        con.execute("SELECT sum(length(json(body))) FROM bodies").fetchall()
        return time.perf_counter() - start


def index_run(settings: Settings, month: Month) -> dict[str, Any]:
    """Clean metrics and posts through indicators, platform indices, comprehensive index and the
    uncertainty and sensitivity analysis (the methodology's runs, timed on their own too), by the
    functions the assets call."""
    from cityindex_pipeline import method
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
    long = method.platform_indicators(metrics, posts, methodology, methodology.coverage.platforms_in(month))
    platform_scores = pl.concat(
        [
            method.platform_index(long.filter(platform=p), methodology, empty_platform.filter(platform=p))
            for p in methodology.coverage.platforms_in(month)
        ],
        how="diagonal_relaxed",
    )
    scores = method.comprehensive_index(
        cities, platform_scores, weights, qualitative, empty_comprehensive, methodology
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
        "scores": scores,
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


PEER_COLUMNS = ("account_handle", "endpoint", "page", "body")
"""What the peer reads of the documents, as a notebook would load them."""


def pandas_peer(settings: Settings, month: Month) -> dict[str, Any]:
    """The analyst's version from the same stored documents: seconds, and its scores."""
    from benchmarks.pandas_peer import run_peer
    from cityindex_pipeline.warehouse.store import Warehouse

    store = Warehouse(settings.warehouse_path)
    with store.session():
        documents = {p: store.raw_documents(month, p).select(PEER_COLUMNS).to_pandas() for p in PLATFORMS}
        accounts = store.read_month("clean.registry_accounts", month).to_pandas()
        cities = store.read_month("clean.registry_cities", month).to_pandas()
        weights = store.read_month("idx.platform_weights", month).to_pandas()
        qualitative = store.read_month("idx.qualitative_scores", month).to_pandas()
        previous = store.read_month("clean.account_metrics", month.previous())
    followers = {
        (p, h): f for p, h, f in previous.select("platform", "account_handle", "followers").iter_rows()
    }
    start = time.perf_counter()
    scores = run_peer(documents, accounts, cities, weights, qualitative, month, followers)
    return {"seconds": time.perf_counter() - start, "scores": scores}


def measure_scale(scale: int, repeat: int) -> dict[str, Any]:
    """Every per-scale figure, medians over `repeat` (each end-to-end repeat in a fresh home)."""
    result: dict[str, Any] = {"scale": scale, "repeat": repeat, "month": BENCH_MONTH.partition_key}
    with tempfile.TemporaryDirectory(prefix="cityindex-bench-") as scratch, registry_scaled(scale):
        runs = []
        for i in range(repeat):
            settings = bench_settings(Path(scratch) / f"home-{i}")
            runs.append(end_to_end(settings, BENCH_MONTH))
        seconds = statistics.median(r[0] for r in runs)
        shares = {who: statistics.median(r[1][who] for r in runs) for who in runs[0][1]}
        result["end_to_end"] = {
            "seconds": seconds,
            "success": all(r[2] for r in runs),
            "dagster_seconds": seconds * shares["dagster"],
            "great_expectations_seconds": seconds * shares["great_expectations"],
            "ours_seconds": seconds * shares["ours"],
            "framework_share": shares["dagster"] + shares["great_expectations"],
        }
        settings = bench_settings(Path(scratch) / f"home-{repeat - 1}")

        clean_runs = [raw_to_clean(settings, BENCH_MONTH) for _ in range(repeat)]
        clean_seconds = statistics.median(r["seconds"] for r in clean_runs)
        documents = clean_runs[0]["documents_frames"]
        for run in clean_runs:
            del run["documents_frames"]
        in_memory_floor_seconds = statistics.median(parse_floor(documents) for _ in range(repeat))
        del documents  # not held through the steps that follow (peak RSS is the process's)
        floor_seconds = statistics.median(stored_floor(settings, BENCH_MONTH) for _ in range(repeat))
        in_memory_seconds = statistics.median(r["in_memory_seconds"] for r in clean_runs)
        first = clean_runs[0]
        result["raw_to_clean"] = {
            "seconds": clean_seconds,
            "in_memory_seconds": in_memory_seconds,
            "documents": first["documents"],
            "megabytes": first["bytes"] / 1e6,
            "posts": first["posts"],
            "accounts": first["accounts"],
            "posts_per_second": first["posts"] / clean_seconds,
            "floor_seconds": floor_seconds,
            "floor_posts_per_second": first["posts"] / floor_seconds,
            "ratio_to_floor": clean_seconds / floor_seconds,
            "in_memory_floor_seconds": in_memory_floor_seconds,
            "in_memory_ratio_to_floor": in_memory_seconds / in_memory_floor_seconds,
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

        peer_runs = [pandas_peer(settings, BENCH_MONTH) for _ in range(repeat)]
        peer_seconds = statistics.median(r["seconds"] for r in peer_runs)
        ours_seconds = in_memory_seconds + index_seconds  # the peer, too, starts from documents in memory
        result["pandas_peer"] = {
            "seconds": peer_seconds,
            "ours_seconds": ours_seconds,
            "speedup": peer_seconds / ours_seconds,
            "max_score_difference": _max_difference(index_runs[0]["scores"], peer_runs[0]["scores"]),
        }

        result["audit"] = {
            "trace_seconds": trace_latency(settings, BENCH_MONTH, repeat),
            "verify_seconds": verify_latency(settings, BENCH_MONTH, repeat),
        }
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _max_difference(ours: pl.DataFrame, peer: Any) -> float:
    theirs = pl.from_pandas(peer).select("city_id", pl.col("score").alias("peer_score"))
    joined = ours.select("city_id", "score").join(theirs, on="city_id", how="full", coalesce=True)
    if joined["score"].null_count() or joined["peer_score"].null_count():
        return float("inf")
    return float((joined["score"] - joined["peer_score"]).abs().max())


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


def run_bench(
    scales: list[int],
    repeat: int,
    backfill_months: int = len(BACKFILL_MONTHS),
    backfill_scales: tuple[int, ...] = (1, 10),
    backfill_repeat: int = 1,
) -> dict[str, Any]:
    results = [_child(["--scale", str(scale), "--repeat", str(repeat)]) for scale in scales]
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
    parser = argparse.ArgumentParser(description="one scale of `cityindex bench`, in its own process")
    parser.add_argument("--scale", type=int)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--backfill", type=int)
    parser.add_argument("--backfill-scale", default="1")
    parser.add_argument("--backfill-repeat", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.backfill:
        months = tuple(Month.range(BACKFILL_MONTHS[0], BACKFILL_MONTHS[0].shift(args.backfill - 1)))
        scales = tuple(int(part) for part in args.backfill_scale.split(","))
        result = measure_backfill(months, scales, args.backfill_repeat)
    else:
        result = measure_scale(args.scale, args.repeat)
    Path(args.out).write_text(json.dumps(result, default=str), encoding="utf-8")


if __name__ == "__main__":
    _main()
