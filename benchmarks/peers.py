"""Ours against the peers, the same job side by side: a month's stored documents, already in memory,
to each city's comprehensive score.

"Ours" is the functions the assets call (cleaning, account metrics, indicators, platform indices,
the comprehensive index), without the uncertainty analysis, which neither peer does; the peers are
`pandas_peer.py` (vectorised pandas, orjson) and `sql_peer.py` (DuckDB SQL). Each is given the same
inputs, read from the warehouse before any clock starts, and each round runs all three in a rotated
order (ours, pandas, SQL; then pandas, SQL, ours; ...), so that none is always first or last under
the machine's drift. Peak memory is measured apart: one process per contender (`peak_of`), since a
process's peak resident set is the largest of everything it ever ran.
"""

from __future__ import annotations

import importlib
import resource
import statistics
import time
from dataclasses import dataclass
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.settings import Settings

CONTENDERS = ("ours", "pandas", "sql")
PEER_COLUMNS = ("account_handle", "endpoint", "page", "body")
"""What the peers read of the documents, as a notebook would load them."""


@dataclass
class Inputs:
    """One month's inputs, in memory: the documents and what the index needs beside them."""

    month: Month
    documents: dict[str, pl.DataFrame]
    accounts: pl.DataFrame
    cities: pl.DataFrame
    weights: pl.DataFrame
    qualitative: pl.DataFrame
    previous: pl.DataFrame
    """The previous month's account metrics (follower growth)."""
    previous_platform: pl.DataFrame
    previous_comprehensive: pl.DataFrame

    @property
    def posts_bytes(self) -> int:
        return sum(int(frame["body"].str.len_bytes().sum()) for frame in self.documents.values())


def load_inputs(settings: Settings, month: Month) -> Inputs:
    from cityindex_pipeline.warehouse.store import Warehouse

    store = Warehouse(settings.warehouse_path)
    with store.session():
        return Inputs(
            month,
            {platform: store.raw_documents(month, platform) for platform in PLATFORMS},
            store.read_month("clean.registry_accounts", month),
            store.read_month("clean.registry_cities", month),
            store.read_month("idx.platform_weights", month),
            store.read_month("idx.qualitative_scores", month),
            store.read_month("clean.account_metrics", month.previous()),
            store.read_month("idx.platform_index", month.previous()),
            store.read_month("idx.comprehensive_index", month.previous()),
        )


def ours(inputs: Inputs) -> pl.DataFrame:
    """Documents to scores by the functions the assets call: city_id and score."""
    from benchmarks.ours import clean_month, index_month
    from cityindex_pipeline.method.config import load_methodology

    methodology = load_methodology()
    posts, metrics = clean_month(
        inputs.documents, inputs.accounts, inputs.previous, inputs.month, methodology
    )
    _long, scores = index_month(
        metrics,
        posts,
        inputs.cities,
        inputs.weights,
        inputs.qualitative,
        inputs.previous_platform,
        inputs.previous_comprehensive,
        inputs.month,
        methodology,
    )
    return scores.select("city_id", "score")


def peer_arguments(inputs: Inputs) -> tuple[Any, ...]:
    """The peers' inputs as pandas frames, as a notebook would load them (converted before timing)."""
    documents = {p: frame.select(PEER_COLUMNS).to_pandas() for p, frame in inputs.documents.items()}
    followers = {
        (p, h): f for p, h, f in inputs.previous.select("platform", "account_handle", "followers").iter_rows()
    }
    return (
        documents,
        inputs.accounts.to_pandas(),
        inputs.cities.to_pandas(),
        inputs.weights.to_pandas(),
        inputs.qualitative.to_pandas(),
        inputs.month,
        followers,
    )


def run_contender(who: str, inputs: Inputs, peer_inputs: tuple[Any, ...] | None) -> pl.DataFrame:
    if who == "ours":
        return ours(inputs)
    run_peer = importlib.import_module(f"benchmarks.{who}_peer").run_peer
    return pl.from_pandas(run_peer(*peer_inputs)).select("city_id", "score")


def max_difference(ours_scores: pl.DataFrame, theirs: pl.DataFrame) -> float:
    """The largest score difference over the cities; infinite when a city is missing on one side."""
    joined = ours_scores.join(theirs, on="city_id", how="full", coalesce=True, suffix="_peer")
    if joined["score"].null_count() or joined["score_peer"].null_count():
        return float("inf")
    return float((joined["score"] - joined["score_peer"]).abs().max())


def rotated(round_index: int) -> list[str]:
    """The order of round `round_index`: each contender first in turn."""
    shift = round_index % len(CONTENDERS)
    return list(CONTENDERS[shift:] + CONTENDERS[:shift])


def compare(inputs: Inputs, repeat: int) -> dict[str, Any]:
    """Every contender `repeat` times, alternating: median seconds and spread, each peer's ratio to
    ours (median of the rounds' ratios, and their spread), and each peer's largest score difference."""
    peer_inputs = peer_arguments(inputs)
    seconds: dict[str, list[float]] = {who: [] for who in CONTENDERS}
    scores: dict[str, pl.DataFrame] = {}
    orders = []
    for index in range(repeat):
        order = rotated(index)
        orders.append(order)
        for who in order:
            start = time.perf_counter()
            scores[who] = run_contender(who, inputs, peer_inputs)
            seconds[who].append(time.perf_counter() - start)
    result: dict[str, Any] = {"repeat": repeat, "orders": orders}
    for who in CONTENDERS:
        result[who] = {
            "seconds": statistics.median(seconds[who]),
            "spread": [min(seconds[who]), max(seconds[who])],
            "all_seconds": seconds[who],
        }
    for peer in CONTENDERS[1:]:
        ratios = [theirs / mine for theirs, mine in zip(seconds[peer], seconds["ours"], strict=True)]
        result[peer]["ours_faster_by"] = statistics.median(ratios)
        result[peer]["ours_faster_by_spread"] = [min(ratios), max(ratios)]
        result[peer]["max_score_difference"] = max_difference(scores["ours"], scores[peer])
    best = min(CONTENDERS[1:], key=lambda peer: result[peer]["seconds"])
    result["best_peer"] = best
    result["ours_faster_than_best_peer_by"] = result[best]["ours_faster_by"]
    return result


def peak_of(who: str, inputs: Inputs) -> dict[str, float]:
    """One run of `who` in this process (which has done nothing else): its peak resident memory, and
    the process's resident memory before it, with the inputs loaded."""
    loaded = _rss_mib()
    peer_inputs = None if who == "ours" else peer_arguments(inputs)
    before = _rss_mib()
    run_contender(who, inputs, peer_inputs)
    return {"loaded_mib": loaded, "before_mib": before, "peak_mib": _peak_mib()}


def _rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
