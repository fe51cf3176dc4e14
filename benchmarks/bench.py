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
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.reference.registry import Registry

BENCH_MONTH = Month(2024, 9)
BACKFILL_MONTHS = (Month(2024, 7), Month(2024, 8), Month(2024, 9))
SAMPLE_SECONDS = 0.005
OURS = ("cityindex_pipeline", "assets", "checks")
TARGETS = {
    "framework_share_at_10": 1 / 3,
    "raw_to_clean_vs_floor": 2.0,
    "speedup_vs_pandas_at_10": 5.0,
    "rss_at_100_gib": 4.0,
    "trace_seconds_at_10": 0.5,
    "backfill_per_month_vs_alone": 1.0,
}
BACKFILL_TIMEOUT_SECONDS_PER_MONTH = 600


# --- the scaled registry ----------------------------------------------------------------------------


def scaled_registry(registry: Registry, scale: int) -> Registry:
    """k copies of every account: copy 0 is the account itself, copy i gets `-b{i}` on its handle and
    its id, in the same city and platform, so the city's indicators sum k accounts' months."""
    if scale < 1:
        raise ValueError(f"scale must be at least 1; got {scale}")
    copies = [registry.accounts]
    for i in range(1, scale):
        copies.append(
            registry.accounts.with_columns(
                pl.col("account_handle") + f"-b{i}",
                pl.col("platform_account_id") + f"-b{i}",
            )
        )
    accounts = pl.concat(copies)
    return Registry(cities=registry.cities, accounts=accounts, source_sha256=f"{registry.version}-x{scale}")


@contextmanager
def registry_scaled(scale: int) -> Iterator[None]:
    """The account_registry asset reads the scaled registry for the duration (bench processes only)."""
    import assets.registry as registry_asset

    original = registry_asset.load_registry
    registry_asset.load_registry = lambda: scaled_registry(original(), scale)
    try:
        yield
    finally:
        registry_asset.load_registry = original


# --- attribution by sampling -----------------------------------------------------------------------


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
        if top == "dagster" or top.startswith("dagster_"):
            return "dagster"
        if top == "great_expectations":
            return "great_expectations"
        if top in OURS and module != __name__:
            return "ours"
        frame = frame.f_back
    return "ours"


# --- the measurements of one scale -------------------------------------------------------------------


def _timed(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _settings(home: Path) -> Settings:
    return Settings(home=home, source="simulated", seed=20240901)


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
    Monte Carlo (the methodology's draws), by the functions the assets call."""
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
    intervals, _sensitivity = simulate_uncertainty(
        long, weights, qualitative, cities["city_id"].to_list(), methodology
    )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "city_platforms": long.select("platform", "city_id").unique().height,
        "draws": int(intervals["draws"][0]),
        "scores": scores,
    }


def trace_latency(settings: Settings, month: Month, repeat: int) -> float:
    from cityindex_pipeline.audit.trace import trace_city
    from cityindex_pipeline.warehouse.store import Warehouse

    store = Warehouse(settings.warehouse_path)
    return _timed(lambda: trace_city(store, "Beijing", month), repeat)[0]


def verify_latency(settings: Settings, month: Month, repeat: int) -> float | None:
    """What `cityindex verify` does: heal, check every version's export, recompute the latest."""
    from cityindex_pipeline.cli.recompute import verify_month
    from cityindex_pipeline.warehouse.store import Warehouse

    store = Warehouse(settings.warehouse_path)
    return _timed(lambda: verify_month(settings, store, month, None), repeat)[0]


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
            settings = _settings(Path(scratch) / f"home-{i}")
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
        settings = _settings(Path(scratch) / f"home-{repeat - 1}")

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


def daemon_backfill(home: Path, months: tuple[Month, ...]) -> dict[str, Any]:
    """The months as one backfill on a fresh instance of `home`, launched through the webserver's
    GraphQL API as the UI launches one; the daemon (a process of its own) launches the runs and the
    run queue holds them. Timed from the launch to the backfill's end."""
    from cityindex_pipeline.cli.services import running_services, service_environment

    home.mkdir(parents=True)
    with running_services(service_environment(home), home.parent / f"{home.name}-dagster.log") as services:
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

    settings = _settings(home)
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


def run_bench(scales: list[int], repeat: int, backfill_months: int = len(BACKFILL_MONTHS)) -> dict[str, Any]:
    results = [_child(["--scale", str(scale), "--repeat", str(repeat)]) for scale in scales]
    backfill = _child(["--backfill", str(backfill_months)])
    report = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load": os.getloadavg()},
        "scales": results,
        "backfill": backfill,
    }
    report["targets"] = targets(report)
    return report


def targets(report: dict[str, Any]) -> dict[str, Any]:
    """Each target with its figure and whether it is met (None when its scale was not run)."""
    by_scale = {r["scale"]: r for r in report["scales"]}
    ten, hundred = by_scale.get(10), by_scale.get(100)
    checks: dict[str, Any] = {}

    def put(name: str, value: float | None, met: bool | None) -> None:
        checks[name] = {"value": value, "target": TARGETS.get(name), "met": met}

    share = ten["end_to_end"]["framework_share"] if ten else None
    put("framework_share_at_10", share, None if share is None else share <= 1 / 3)
    worst = max(r["raw_to_clean"]["ratio_to_floor"] for r in report["scales"])
    put("raw_to_clean_vs_floor", worst, worst <= 2.0)
    speedup = ten["pandas_peer"]["speedup"] if ten else None
    same = ten["pandas_peer"]["max_score_difference"] <= 1e-9 if ten else None
    put("speedup_vs_pandas_at_10", speedup, None if speedup is None else speedup >= 5.0 and same)
    rss = hundred["peak_rss_mib"] / 1024 if hundred else None
    put("rss_at_100_gib", rss, None if rss is None else rss <= 4.0)
    if ten and hundred:
        growth = hundred["end_to_end"]["seconds"] / ten["end_to_end"]["seconds"]
        put("time_10_to_100_ratio", growth, growth <= 10.0)
    per_month = report["backfill"]["per_month_vs_alone"]
    put("backfill_per_month_vs_alone", per_month, per_month <= 1.0)
    trace = ten["audit"]["trace_seconds"] if ten else None
    put("trace_seconds_at_10", trace, None if trace is None else trace < 0.5)
    return checks


def print_report(report: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title="cityindex bench (medians)")
    for column in (
        "scale",
        "posts",
        "end to end s",
        "dagster %",
        "GX %",
        "ours %",
        "raw→clean posts/s",
        "x floor",
        "x floor in memory",
        "index city-platforms/s",
        "pandas peer s",
        "speed-up",
        "max |Δscore|",
        "trace s",
        "verify s",
        "peak RSS MiB",
    ):
        table.add_column(column, justify="right")
    for r in report["scales"]:
        e2e, clean, idx, peer = r["end_to_end"], r["raw_to_clean"], r["index"], r["pandas_peer"]
        verify = r["audit"]["verify_seconds"]
        table.add_row(
            str(r["scale"]),
            f"{clean['posts']:,}",
            f"{e2e['seconds']:.2f}",
            f"{100 * e2e['dagster_seconds'] / e2e['seconds']:.0f}",
            f"{100 * e2e['great_expectations_seconds'] / e2e['seconds']:.0f}",
            f"{100 * e2e['ours_seconds'] / e2e['seconds']:.0f}",
            f"{clean['posts_per_second']:,.0f}",
            f"{clean['ratio_to_floor']:.2f}",
            f"{clean['in_memory_ratio_to_floor']:.2f}",
            f"{idx['city_platforms_per_second']:,.0f}",
            f"{peer['seconds']:.2f}",
            f"{peer['speedup']:.1f}",
            f"{peer['max_score_difference']:.1e}",
            f"{r['audit']['trace_seconds']:.3f}",
            "n/a" if verify is None else f"{verify:.3f}",
            f"{r['peak_rss_mib']:.0f}",
        )
    console.print(table)
    b = report["backfill"]
    console.print(
        f"backfill ({b['mode']}): {b['months']} months at scale 1 in {b['seconds']:.1f} s, {b['runs']} runs"
        f" ({b['run_seconds_total']:.0f} s inside them), {b['seconds_per_month']:.1f} s a month; one month alone"
        f" {b['one_month_alone_seconds']:.1f} s ({b['one_month_alone_runs']} runs,"
        f" {b['one_month_alone_run_seconds_total']:.0f} s inside them): {b['per_month_vs_alone']:.2f}x a month"
    )
    sequence = b["in_process"]
    console.print(
        f"  the same months by the in-process runner, in sequence: {sequence['seconds']:.1f} s,"
        f" {sequence['seconds_per_month']:.1f} s a month"
    )
    for name, check in report["targets"].items():
        mark = {True: "met", False: "MISSED", None: "not run"}[check["met"]]
        value = "n/a" if check["value"] is None else f"{check['value']:.3g}"
        console.print(f"  target {name}: {value} (target {check['target']}) {mark}")


def _main() -> None:
    parser = argparse.ArgumentParser(description="one scale of `cityindex bench`, in its own process")
    parser.add_argument("--scale", type=int)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--backfill", type=int)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.backfill:
        months = tuple(Month.range(BACKFILL_MONTHS[0], BACKFILL_MONTHS[0].shift(args.backfill - 1)))
        result = measure_backfill(months)
    else:
        result = measure_scale(args.scale, args.repeat)
    Path(args.out).write_text(json.dumps(result, default=str), encoding="utf-8")


if __name__ == "__main__":
    _main()
