"""The parsers' results for many documents at once: DuckDB reads every body in one pass, in C.

The per-record parsers (`parse_document`) stay the definition of what a document means. This module
computes the same rows set-wise for the documents it can vouch for: every field of every record has
the plain shape the parsers accept without question (an integer literal for a count, a string for a
text, an ISO 8601 time in one of the APIs' formats and range, an object where an object belongs). A
document with anything else in it (a record to reject, an unusual type, a body DuckDB cannot read) is
handed whole to `parse_document`, so the outcome, rejections and their reasons included, is the
parsers' own. The fast reading is checked against the parsers by tests.

Only usable documents (`document.py`) reach DuckDB: a body the definition refuses is refused here
with the definition's reason, from the verdict stored with it, before any reading. What DuckDB is
more lenient about than strict JSON (a repeated name, of which it keeps the first value and Python
the last; `NaN`; a trailing comma; nesting of any depth) therefore never reaches it.

Each platform states its set-wise reader beside its parser (`facebook.py`, `instagram.py`, `x.py`,
`youtube.py`), in the terms of `plain.py`; this module holds what they share: the in-memory
database, the pass over the bodies, the texts, the Graph API's insights, the profiles and the
documents left to the parsers.
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from cityindex_pipeline.parsing import (
    INSIGHT_ENDPOINTS,
    POST_ENDPOINTS,
    PROFILE_ENDPOINTS,
    DocumentError,
    facebook,
    instagram,
    parse_document,
    x,
    youtube,
)
from cityindex_pipeline.parsing.common import INSIGHT_FIELDS, hashtags_in
from cityindex_pipeline.parsing.document import judged_usable, with_verdicts
from cityindex_pipeline.parsing.plain import MACROS, PostReader

COUNTS = ("likes", "comments", "shares", "quotes", "saves", "views", "exposures", "reach", "duration_seconds")
POST_ROW_SCHEMA: dict[str, pl.DataType] = {
    "doc_index": pl.UInt32(),
    "record_index": pl.Int64(),
    "post_id": pl.String(),
    "published_at_utc": pl.Datetime("us", "UTC"),
    "content_type": pl.String(),
    "text_excerpt": pl.String(),
    "permalink": pl.String(),
    "hashtags": pl.List(pl.String()),
    **{name: pl.Int64() for name in COUNTS},
}
INSIGHT_ROW_SCHEMA: dict[str, pl.DataType] = {
    "doc_index": pl.UInt32(),
    "record_index": pl.Int64(),
    **{name: pl.String() if name == "post_id" else pl.Int64() for name in INSIGHT_FIELDS},
}
PROFILE_ROW_SCHEMA: dict[str, pl.DataType] = {
    "doc_index": pl.UInt32(),
    "record_index": pl.Int64(),
    "followers": pl.Int64(),
}
REJECTION_SCHEMA: dict[str, pl.DataType] = {
    "doc_index": pl.UInt32(),
    "record_id": pl.String(),
    "reason": pl.String(),
    "record": pl.String(),
}

POST_READERS: dict[str, PostReader] = {
    "facebook": facebook.POSTS_READER,
    "instagram": instagram.MEDIA_READER,
    "x": x.TWEETS_READER,
    "youtube": youtube.VIDEOS_READER,
}
"""Each platform's set-wise reader of its post endpoint (`POST_ENDPOINTS`), stated beside its parser."""
INSIGHT_METRICS: dict[str, dict[str, tuple[str, ...]]] = {
    "facebook": facebook.INSIGHT_METRICS,
    "instagram": instagram.INSIGHT_METRICS,
}
"""The metric names of each insight field, as the platform's parser reads them (`INSIGHT_ENDPOINTS`)."""
_INSIGHTS_STRUCTURE = (
    '"MAP(VARCHAR, STRUCT(id JSON, insights STRUCT(data STRUCT(name JSON, \\"values\\" '
    'STRUCT(value JSON)[], total_value STRUCT(value JSON))[])))"'
)


_INSIGHTS_METRIC_OK = (
    "m IS NOT NULL AND starts_with(m.name::VARCHAR, '\"') AND NOT contains(m.name::VARCHAR, '\\') "
    "AND (m.total_value IS NULL OR m.total_value.value IS NOT NULL)"
)


@dataclass(frozen=True)
class DocumentRows:
    """What a platform's documents hold: post, insight and profile rows, each with the index of its
    document and its place there, and what was rejected (a record, or a document when record_id is
    null) with the parsers' reason."""

    posts: pl.DataFrame
    insights: pl.DataFrame
    profiles: pl.DataFrame
    rejected: pl.DataFrame


DOCUMENTS_PER_BATCH = 4_096
"""Documents read together: DuckDB's tables of transformed bodies hold a batch, not a month (at 100
times the accounts, a month's insights alone took 600 MiB there)."""


BODIES_PER_CHUNK = 64
"""Bodies per chunk of the table DuckDB reads. Small chunks let its threads share the work, and
`json_transform` is 3 to 4 times faster on small vectors of large bodies than on one vector of a
thousand (the tweets of a month at 10 times the accounts: 0.08 s in one chunk, 0.02 s in chunks)."""

_DATABASE: tuple[int, duckdb.DuckDBPyConnection] | None = None
_DATABASE_LOCK = threading.Lock()


def in_chunks(frame: pl.DataFrame) -> pa.Table:
    """The frame as an arrow table of `BODIES_PER_CHUNK` rows a chunk, as DuckDB should read bodies."""
    table = frame.to_arrow()
    return pa.Table.from_batches(table.to_batches(BODIES_PER_CHUNK), schema=table.schema)


def _connection() -> duckdb.DuckDBPyConnection:
    """A connection of its own (a cursor) on the process's in-memory database that holds the macros:
    a new database with its macros cost 20 ms a call, a cursor almost nothing. A forked process makes
    its own database."""
    global _DATABASE
    with _DATABASE_LOCK:
        if _DATABASE is None or _DATABASE[0] != os.getpid():
            database = duckdb.connect()
            database.execute(MACROS + "".join(reader.macros for reader in POST_READERS.values()))
            _DATABASE = (os.getpid(), database)
        return _DATABASE[1].cursor()


def read_documents(
    platform: str, documents: pl.DataFrame, documents_per_batch: int = DOCUMENTS_PER_BATCH
) -> DocumentRows:
    """The rows `parse_document` gives for each document (`doc_index`, `endpoint`, `body`, and the
    stored verdict where there is one): a document the definition refuses is refused with its reason,
    posts and insights are read set-wise where the documents are plain, everything else by the
    parsers; a batch of documents at a time, in their order."""
    documents = with_verdicts(documents)
    starts = range(0, max(documents.height, 1), documents_per_batch)
    with _connection() as con:
        batches = [
            _read_batch(con, platform, documents.slice(start, documents_per_batch)) for start in starts
        ]
    return DocumentRows(
        posts=pl.concat([b.posts for b in batches]).sort("doc_index", "record_index"),
        insights=pl.concat([b.insights for b in batches]).sort("doc_index", "record_index"),
        profiles=pl.concat([b.profiles for b in batches]),
        rejected=pl.concat([b.rejected for b in batches]),
    )


def read_profiles(platform: str, documents: pl.DataFrame) -> pl.DataFrame:
    """Profile rows of profile documents (`doc_index`, `endpoint`, `body`): one small document per
    account, read by the parsers, with no set-wise pass over posts that are not there."""
    usable = with_verdicts(documents).filter(pl.col("unusable_reason").is_null())
    return _parse_record_by_record(platform, usable, judged=True).profiles


def _read_batch(con: duckdb.DuckDBPyConnection, platform: str, documents: pl.DataFrame) -> DocumentRows:
    refused = documents.filter(pl.col("unusable_reason").is_not_null()).select(
        "doc_index",
        pl.lit(None, pl.String).alias("record_id"),
        pl.concat_str(pl.lit("unusable document: "), "unusable_reason").alias("reason"),
        pl.col("body").str.slice(0, 4000).alias("record"),
    )
    documents = documents.filter(pl.col("unusable_reason").is_null())
    post_endpoint, insight_endpoint = POST_ENDPOINTS[platform], INSIGHT_ENDPOINTS.get(platform)
    posts_docs = documents.filter(pl.col("endpoint") == post_endpoint).select("doc_index", "body")
    insight_docs = documents.filter(pl.col("endpoint").eq_missing(insight_endpoint)).select(
        "doc_index", "body"
    )
    posts, posts_left = _read_posts(con, POST_READERS[platform], posts_docs)
    if insight_endpoint is not None:
        insights, insights_left = _read_insights(con, INSIGHT_METRICS[platform], insight_docs)
    else:
        insights, insights_left = pl.DataFrame(schema=INSIGHT_ROW_SCHEMA), []
    read = (set(posts_docs["doc_index"]) - set(posts_left)) | (
        set(insight_docs["doc_index"]) - set(insights_left)
    )
    left = documents.filter(~pl.col("doc_index").is_in(sorted(read)))
    by_record = _parse_record_by_record(platform, left, judged=True)
    return DocumentRows(
        posts=pl.concat([posts, by_record.posts]),
        insights=pl.concat([insights, by_record.insights]),
        profiles=by_record.profiles,
        rejected=pl.concat([refused.cast(REJECTION_SCHEMA), by_record.rejected]).sort(
            "doc_index", maintain_order=True
        ),
    )


def _read_plain(
    con: duckdb.DuckDBPyConnection, structure: str, documents: pl.DataFrame, plain: str, lists: dict[str, str]
) -> tuple[pl.DataFrame, list[int]]:
    """One pass over the bodies: each is transformed, checked (`plain`), and the `lists` of the plain
    ones are read; returns those lists by document, and the documents left to the parsers.
    Nothing is stored in between: a table of transformed bodies cost more to write than to compute.
    The bodies are usable documents (`document.py`), so what DuckDB would forgive is not there."""
    con.register("bodies", in_chunks(documents))
    read = ", ".join(f"CASE WHEN plain THEN {expression} END AS {name}" for name, expression in lists.items())
    frame = con.sql(
        f"SELECT doc_index, plain, {read} FROM ("
        f"SELECT doc_index, d, coalesce(d IS NOT NULL AND ({plain}), false) AS plain FROM ("
        f"SELECT doc_index, try(json_transform(body, '{structure}')) AS d FROM bodies))"
    ).pl()
    con.unregister("bodies")
    return frame.filter("plain").drop("plain"), frame.filter(~pl.col("plain"))["doc_index"].to_list()


def _records(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """One row per element of each document's list `name`, with its place in the list."""
    return (
        frame.select("doc_index", name)
        .with_columns(pl.int_ranges(pl.col(name).list.len(), dtype=pl.Int64).alias("record_index"))
        .explode(name, "record_index")
        .filter(pl.col("record_index").is_not_null())
        .unnest(name)
    )


def _read_posts(
    con: duckdb.DuckDBPyConnection, reader: PostReader, documents: pl.DataFrame
) -> tuple[pl.DataFrame, list[int]]:
    """Post rows of the plain documents, and the documents left to the parsers."""
    every_record = f"coalesce(all_of(list_transform({reader.records}, lambda r: coalesce(({reader.record_ok}), false))), true)"
    columns = ", ".join(f"{name}: {expression}" for name, expression in reader.columns.items())
    lists = {"records": f"list_transform({reader.records}, lambda r: {{{columns}}})"}
    if reader.media is not None:
        lists["media"] = reader.media
    plain, left = _read_plain(
        con, json.dumps(reader.structure), documents, f"({reader.document_ok}) AND {every_record}", lists
    )
    rows = _records(plain, "records")
    if reader.with_media is not None:
        rows = reader.with_media(rows, _records(plain, "media").drop("record_index"))
    if "_text" in rows.columns:
        rows = _with_texts(rows)
    schema = POST_ROW_SCHEMA.items()
    rows = rows.select(
        pl.col(n).cast(t) if n in rows.columns else pl.lit(None, t).alias(n) for n, t in schema
    )
    return rows, left


_ASCII_HASHTAG = r"#[0-9A-Za-z_]+"
_HASHTAG_TOUCHING_NON_ASCII = r"#[0-9A-Za-z_]*[^\x00-\x7F]"


def _with_texts(rows: pl.DataFrame) -> pl.DataFrame:
    """The excerpt of each post's text, and its hashtags unless the platform lists them (X). The regex
    crate's `\\w` would be Unicode, as Python's is, but the ASCII class is checked faster: a hashtag
    touching a non-ASCII character is left to Python's own `hashtags_in`, so the result is the
    parser's either way."""
    text = pl.col("_text")
    rows = rows.with_columns(text.str.slice(0, 280).alias("text_excerpt"))
    if "hashtags" in rows.columns:
        return rows.drop("_text")
    rows = rows.with_columns(
        pl.when(text.is_null())
        .then(pl.lit([], pl.List(pl.String)))
        .when(~text.str.contains(_HASHTAG_TOUCHING_NON_ASCII))
        .then(text.str.extract_all(_ASCII_HASHTAG).list.eval(pl.element().str.slice(1)))
        .alias("hashtags"),
    )
    missing = rows["hashtags"].is_null()
    if missing.any():
        tags = [hashtags_in(text) if gap else None for text, gap in zip(rows["_text"], missing, strict=True)]
        rows = rows.with_columns(
            pl.when(missing)
            .then(pl.Series(tags, dtype=pl.List(pl.String)))
            .otherwise(pl.col("hashtags"))
            .alias("hashtags")
        )
    return rows.drop("_text")


def _read_insights(
    con: duckdb.DuckDBPyConnection, metrics: dict[str, tuple[str, ...]], documents: pl.DataFrame
) -> tuple[pl.DataFrame, list[int]]:
    """Insight rows of the plain lookups `{post_id: {"insights": {"data": [...]}, "id": post_id}}`."""
    entry_ok = (
        "v IS NOT NULL AND id_ok(v.id) AND v.insights.data IS NOT NULL"
        f" AND coalesce(all_of(list_transform(v.insights.data, lambda m: coalesce(({_INSIGHTS_METRIC_OK}), false))), true)"
        " AND len(list_distinct(list_transform(v.insights.data, lambda m: m.name))) = len(v.insights.data)"
    )
    values = (
        "list_transform(v.insights.data, lambda m: CASE WHEN m.total_value IS NOT NULL"
        ' THEN m.total_value.value ELSE m."values"[-1].value END)'
    )
    names = "list_transform(v.insights.data, lambda m: m.name::VARCHAR)"
    chosen = {
        field: "coalesce(" + ", ".join(f"{values}[list_position({names}, '\"{n}\"')]" for n in names_of) + ")"
        for field, names_of in metrics.items()
    }
    every_entry = (
        "coalesce(all_of(list_transform(map_values(d), lambda v: coalesce(("
        + entry_ok
        + " AND "
        + " AND ".join(f"count_ok({expression})" for expression in chosen.values())
        + "), false))), true)"
    )
    fields = ", ".join(f"{field}: count_of({expression})" for field, expression in chosen.items())
    entries = f"list_transform(map_values(d), lambda v: {{post_id: id_of(v.id), {fields}}})"
    plain, left = _read_plain(con, _INSIGHTS_STRUCTURE, documents, every_entry, {"entries": entries})
    rows = _records(plain, "entries")
    schema = INSIGHT_ROW_SCHEMA.items()
    rows = rows.select(
        pl.col(n).cast(t) if n in rows.columns else pl.lit(None, t).alias(n) for n, t in schema
    )
    return rows, left


def _parse_record_by_record(platform: str, documents: pl.DataFrame, *, judged: bool = False) -> DocumentRows:
    """The parsers' own reading of the documents the set-wise reader left to them; `judged`: every one
    is usable by a verdict that holds, so none is judged again."""
    posts: list[dict[str, Any]] = []
    insights: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    rejected: list[tuple[int, str | None, str, str]] = []
    rows_of = {
        POST_ENDPOINTS[platform]: posts,
        INSIGHT_ENDPOINTS.get(platform): insights,
        PROFILE_ENDPOINTS[platform]: profiles,
    }
    for doc_index, endpoint, body in documents.select("doc_index", "endpoint", "body").iter_rows():
        try:
            with judged_usable(body) if judged else nullcontext():
                parsed = parse_document(platform, endpoint, body)
        except DocumentError as error:
            rejected.append((doc_index, None, f"unusable document: {error}", body[:4000]))
            continue
        rejected.extend((doc_index, r.record_id, r.reason, r.record) for r in parsed.rejected)
        target = rows_of.get(endpoint)
        if target is not None:
            target.extend(
                {"doc_index": doc_index, "record_index": i, **row} for i, row in enumerate(parsed.rows)
            )
    return DocumentRows(
        posts=_frame(posts, POST_ROW_SCHEMA),
        insights=_frame(insights, INSIGHT_ROW_SCHEMA),
        profiles=_frame(profiles, PROFILE_ROW_SCHEMA),
        rejected=pl.DataFrame(rejected, schema=REJECTION_SCHEMA, orient="row"),
    )


def _frame(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame([{k: row.get(k) for k in schema} for row in rows], schema=schema)
