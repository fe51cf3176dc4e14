"""The floors of raw → clean: what reading and parsing a month's stored documents costs with no logic
at all (`stored_floor`, `parse_floor`), beside the pipeline's own raw → clean (`raw_to_clean`)."""

from __future__ import annotations

import time
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.settings import Settings


def raw_to_clean(settings: Settings, month: Month) -> dict[str, Any]:
    """Stored raw documents to clean posts and account metrics, by the functions the assets call:
    timed from the read of the month's documents out of the warehouse, and from the parsing on."""
    from benchmarks.ours import clean_month
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
    posts, metrics = clean_month(documents, accounts, previous, month, methodology)
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "in_memory_seconds": end - parsing,
        "documents": sum(d.height for d in documents.values()),
        "bytes": sum(int(d["body"].str.len_bytes().sum()) for d in documents.values()),
        "posts": posts.height,
        "accounts": metrics.height,
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


def verify_floor(settings: Settings, month: Month) -> dict[str, Any]:
    """The floor of `verify`: the latest publication's recorded inputs read as verify reads them
    (`verify.recorded_inputs`, without its snapshot), each body's sha256 checked in memory
    (hashlib), and the month computed again by the same function verify calls
    (`recompute_publication`, which judges every body again). Verify does this and also heals and
    checks every version's export and manifest."""
    import hashlib

    from cityindex_pipeline.audit.recompute import recompute_publication
    from cityindex_pipeline.audit.verify import recorded_inputs
    from cityindex_pipeline.method.config import load_methodology
    from cityindex_pipeline.warehouse.store import Warehouse

    store = Warehouse(settings.warehouse_path)
    start = time.perf_counter()
    with store.session():
        record = store.publications(month).sort("version").row(-1, named=True)
        inputs = recorded_inputs(store, month, sorted(record["pull_ids"]), record, [])
    read = time.perf_counter()
    altered = sum(
        hashlib.sha256(body.encode("utf-8")).hexdigest() != sha256
        for frame in inputs.documents.values()
        for body, sha256 in zip(frame["body"], frame["sha256"], strict=True)
    )
    rows = recompute_publication(inputs, month, load_methodology(str(record["methodology_version"])))
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "in_memory_seconds": end - read,
        "altered_documents": altered,
        "rows": rows.height,
    }
