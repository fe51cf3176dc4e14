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
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
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
    parse_document,
)
from cityindex_pipeline.parsing.common import INSIGHT_FIELDS, hashtags_in
from cityindex_pipeline.parsing.document import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_DURATION_SECONDS,
    judged_usable,
    with_verdicts,
)
from cityindex_pipeline.parsing.facebook import EXPOSURE_METRICS as FACEBOOK_EXPOSURES
from cityindex_pipeline.parsing.facebook import REACH_METRICS as FACEBOOK_REACH
from cityindex_pipeline.parsing.facebook import STATUS_TYPES
from cityindex_pipeline.parsing.instagram import EXPOSURE_METRICS as INSTAGRAM_EXPOSURES
from cityindex_pipeline.parsing.instagram import MEDIA_TYPES as INSTAGRAM_MEDIA_TYPES
from cityindex_pipeline.parsing.instagram import VIDEO_VIEW_METRICS
from cityindex_pipeline.parsing.x import MEDIA_TYPES as X_MEDIA_TYPES

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

# --- what a plain value looks like, as DuckDB writes a JSON leaf back out --------------------------

_TIME = (
    r'"[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]'
    r'(\.[0-9]{3}|\.[0-9]{6})?(Z|[+-](0[0-9]|1[0-4]):?[0-5][0-9])"'
)
_EARLIEST_US, _LATEST_US = (int(moment.timestamp()) * 1_000_000 for moment in (EARLIEST_TIME, LATEST_TIME))
_MACROS = f"""
CREATE MACRO _duration(t) AS CASE WHEN t IS NOT NULL THEN
    ((coalesce(try_cast(regexp_extract(t, '([0-9]+)D', 1) AS BIGINT), 0) * 24
      + coalesce(try_cast(regexp_extract(t, '([0-9]+)H', 1) AS BIGINT), 0)) * 60
      + coalesce(try_cast(regexp_extract(t, '([0-9]+)M', 1) AS BIGINT), 0)) * 60
      + coalesce(try_cast(regexp_extract(t, '([0-9]+)S', 1) AS BIGINT), 0) END;
CREATE MACRO all_of(l) AS coalesce(list_bool_and(l), true);
CREATE MACRO count_ok(t) AS CAST(t AS VARCHAR) IS NULL OR regexp_full_match(CAST(t AS VARCHAR), '[0-9]{{1,15}}');
CREATE MACRO count_of(t) AS CAST(CAST(t AS VARCHAR) AS BIGINT);
CREATE MACRO string_count_ok(t) AS CAST(t AS VARCHAR) IS NULL OR regexp_full_match(CAST(t AS VARCHAR), '"[0-9]{{1,15}}"');
CREATE MACRO string_count_of(t) AS CAST(CAST(t AS VARCHAR)[2:-2] AS BIGINT);
CREATE MACRO text_ok(t) AS CAST(t AS VARCHAR) IS NULL OR CAST(t AS VARCHAR)[1] = '"';
CREATE MACRO text_of(t) AS CASE WHEN CAST(t AS VARCHAR)[1] = '"' THEN
    CASE WHEN contains(CAST(t AS VARCHAR), '\\') THEN json_extract_string(CAST(t AS VARCHAR), '$') ELSE CAST(t AS VARCHAR)[2:-2] END END;
CREATE MACRO id_ok(t) AS regexp_full_match(CAST(t AS VARCHAR), '"[0-9A-Za-z_.:-]+"|[0-9]+');
CREATE MACRO id_of(t) AS CASE WHEN CAST(t AS VARCHAR)[1] = '"' THEN CAST(t AS VARCHAR)[2:-2] ELSE CAST(t AS VARCHAR) END;
CREATE MACRO time_ok(t) AS regexp_full_match(CAST(t AS VARCHAR), '{_TIME}')
    AND coalesce(epoch_us(try_cast(CAST(t AS VARCHAR)[2:-2] AS TIMESTAMPTZ)) BETWEEN {_EARLIEST_US} AND {_LATEST_US} - 1, false);
CREATE MACRO time_of(t) AS make_timestamp(epoch_us(CAST(CAST(t AS VARCHAR)[2:-2] AS TIMESTAMPTZ)));
"""
"""Counts: an integer literal below 2^53 (16 digits may exceed it: left to the parsers). Ids: a plain
string or integer. Texts: JSON strings, unescaped only when they hold an escape. Times: the APIs'
ISO 8601 forms, between `EARLIEST_TIME` and `LATEST_TIME`. A struct whose fields all read NULL may have been a non-object, which the lenient `json_transform` does not tell apart: such records go to the parsers."""


def _all(conditions: Iterable[str]) -> str:
    return " AND ".join(f"({condition})" for condition in conditions)


def _struct_ok(struct: str, *fields: str) -> str:
    """An optional object: absent, or an object with at least one of the fields it is read for."""
    present = " OR ".join(f"{struct}.{field} IS NOT NULL" for field in fields)
    return f"({struct} IS NULL OR ({present}))"


def _media_type(expression: str, mapping: dict[str, str]) -> str:
    cases = " ".join(f"WHEN '{key}' THEN '{value}'" for key, value in mapping.items())
    return f"CASE {expression} {cases} ELSE 'other' END"


@dataclass(frozen=True)
class _Reader:
    """A body's structure (`json_transform`, leaves as JSON text), the check that a document has the
    plain shape, the records' list, the check of a record and the columns read from it."""

    structure: dict[str, Any]
    document_ok: str
    records: str
    record_ok: str
    columns: dict[str, str]


_J = "JSON"
_FACEBOOK_POSTS = _Reader(
    structure={
        "error": _J,
        "data": [
            {
                "id": _J,
                "created_time": _J,
                "message": _J,
                "permalink_url": _J,
                "status_type": _J,
                "shares": {"count": _J},
                "reactions": {"summary": {"total_count": _J}},
                "comments": {"summary": {"total_count": _J}},
            }
        ],
    },
    document_ok="d.error IS NULL AND d.data IS NOT NULL",
    records="d.data",
    record_ok=_all(
        (
            "id_ok(r.id)",
            "time_ok(r.created_time)",
            "text_ok(r.message)",
            "text_ok(r.permalink_url)",
            "text_ok(r.status_type)",
            "r.shares IS NULL OR count_ok(r.shares.count) AND r.shares.count IS NOT NULL",
            *(
                f"(r.{edge} IS NULL OR r.{edge}.summary.total_count IS NOT NULL "
                f"AND count_ok(r.{edge}.summary.total_count))"
                for edge in ("reactions", "comments")
            ),
        )
    ),
    columns={
        "post_id": "id_of(r.id)",
        "published_at_utc": "time_of(r.created_time)",
        "content_type": _media_type("text_of(r.status_type)", STATUS_TYPES),
        "_text": "text_of(r.message)",
        "permalink": "text_of(r.permalink_url)",
        "likes": "count_of(r.reactions.summary.total_count)",
        "comments": "count_of(r.comments.summary.total_count)",
        "shares": "count_of(r.shares.count)",
    },
)

_INSTAGRAM_MEDIA = _Reader(
    structure={
        "error": _J,
        "data": [
            {
                "id": _J,
                "timestamp": _J,
                "caption": _J,
                "media_type": _J,
                "media_product_type": _J,
                "permalink": _J,
                "like_count": _J,
                "comments_count": _J,
            }
        ],
    },
    document_ok="d.error IS NULL AND d.data IS NOT NULL",
    records="d.data",
    record_ok=_all(
        (
            "id_ok(r.id)",
            "time_ok(r.timestamp)",
            "text_ok(r.caption)",
            "text_ok(r.media_type)",
            "text_ok(r.media_product_type)",
            "text_ok(r.permalink)",
            "count_ok(r.like_count)",
            "count_ok(r.comments_count)",
        )
    ),
    columns={
        "post_id": "id_of(r.id)",
        "published_at_utc": "time_of(r.timestamp)",
        "content_type": "CASE WHEN r.media_product_type::VARCHAR = '\"REELS\"' THEN 'video' ELSE "
        + _media_type("text_of(r.media_type)", INSTAGRAM_MEDIA_TYPES)
        + " END",
        "_text": "text_of(r.caption)",
        "permalink": "text_of(r.permalink)",
        "likes": "count_of(r.like_count)",
        "comments": "count_of(r.comments_count)",
    },
)

_X_METRICS = {
    "likes": "like_count",
    "comments": "reply_count",
    "shares": "retweet_count",
    "quotes": "quote_count",
    "saves": "bookmark_count",
    "exposures": "impression_count",
}
_X_TWEETS = _Reader(
    structure={
        "error": _J,
        "errors": _J,
        "data": [
            {
                "id": _J,
                "text": _J,
                "created_at": _J,
                "public_metrics": dict.fromkeys(_X_METRICS.values(), _J),
                "entities": {"hashtags": [{"tag": _J}]},
                "attachments": {"media_keys": [_J]},
            }
        ],
        "includes": {"media": [{"media_key": _J, "type": _J, "public_metrics": {"view_count": _J}}]},
    },
    # `errors` beside the data are partial errors the parser records as rejections
    document_ok=(
        "d.error IS NULL AND (d.errors IS NULL OR d.errors::VARCHAR = '[]') AND d.data IS NOT NULL"
        " AND (d.includes IS NULL OR d.includes.media IS NOT NULL)"
        " AND all_of(list_transform(coalesce(d.includes.media, []), lambda m: starts_with(m.media_key::VARCHAR, '\"')"
        " AND text_ok(m.type) AND "
        + _struct_ok("m.public_metrics", "view_count")
        + " AND count_ok(m.public_metrics.view_count)))"
        " AND len(list_distinct(list_transform(coalesce(d.includes.media, []), lambda m: m.media_key)))"
        " = len(coalesce(d.includes.media, []))"
    ),
    records="d.data",
    record_ok=_all(
        (
            "id_ok(r.id)",
            "time_ok(r.created_at)",
            "text_ok(r.text)",
            _struct_ok("r.public_metrics", *_X_METRICS.values()),
            *(f"count_ok(r.public_metrics.{name})" for name in _X_METRICS.values()),
            "(r.entities IS NULL OR r.entities.hashtags IS NOT NULL)",
            "all_of(list_transform(coalesce(r.entities.hashtags, []), lambda h: text_ok(h.tag)"
            " AND h.tag IS NOT NULL))",
            "(r.attachments IS NULL OR r.attachments.media_keys IS NOT NULL)",
            "all_of(list_transform(coalesce(r.attachments.media_keys, []), lambda k: text_ok(k)"
            " AND k IS NOT NULL))",
        )
    ),
    columns={
        "post_id": "id_of(r.id)",
        "published_at_utc": "time_of(r.created_at)",
        "_text": "text_of(r.text)",
        "permalink": "'https://x.com/i/web/status/' || id_of(r.id)",
        "hashtags": "list_filter(list_transform(coalesce(r.entities.hashtags, []), lambda h: text_of(h.tag)),"
        " lambda t: t <> '')",
        **{column: f"count_of(r.public_metrics.{name})" for column, name in _X_METRICS.items()},
        "_media_keys": "coalesce(r.attachments.media_keys, [])",
    },
)

_YOUTUBE_VIDEOS = _Reader(
    structure={
        "error": _J,
        "items": [
            {
                "id": _J,
                "snippet": {"publishedAt": _J, "title": _J, "description": _J},
                "statistics": {"likeCount": _J, "commentCount": _J, "viewCount": _J},
                "contentDetails": {"duration": _J},
            }
        ],
    },
    document_ok="d.error IS NULL AND d.items IS NOT NULL",
    records="d.items",
    record_ok=_all(
        (
            "id_ok(r.id)",
            "r.snippet IS NOT NULL AND time_ok(r.snippet.publishedAt)",
            "text_ok(r.snippet.title)",
            "text_ok(r.snippet.description)",
            _struct_ok("r.statistics", "likeCount", "commentCount", "viewCount"),
            *(f"string_count_ok(r.statistics.{name})" for name in ("likeCount", "commentCount", "viewCount")),
            "(r.contentDetails IS NULL OR regexp_full_match(r.contentDetails.duration,"
            " '\"P([0-9]{1,6}D)?(T([0-9]{1,6}H)?([0-9]{1,6}M)?([0-9]{1,6}S)?)?\"')"
            " AND r.contentDetails.duration::VARCHAR NOT IN ('\"P\"', '\"PT\"')"
            f" AND _duration(CAST(r.contentDetails.duration AS VARCHAR)) <= {MAX_DURATION_SECONDS})",
        )
    ),
    columns={
        "post_id": "id_of(r.id)",
        "published_at_utc": "time_of(r.snippet.publishedAt)",
        "content_type": "'video'",
        # the parser joins the title and the description that are there
        "_text": "concat_ws(' ', CASE WHEN starts_with(r.snippet.title::VARCHAR, '\"') THEN text_of(r.snippet.title) END,"
        " CASE WHEN starts_with(r.snippet.description::VARCHAR, '\"') THEN text_of(r.snippet.description) END)",
        "permalink": "'https://www.youtube.com/watch?v=' || id_of(r.id)",
        "likes": "string_count_of(r.statistics.likeCount)",
        "comments": "string_count_of(r.statistics.commentCount)",
        "views": "string_count_of(r.statistics.viewCount)",
        "duration_seconds": "_duration(CAST(r.contentDetails.duration AS VARCHAR))",
    },
)


POST_READERS = {
    "facebook": _FACEBOOK_POSTS,
    "instagram": _INSTAGRAM_MEDIA,
    "x": _X_TWEETS,
    "youtube": _YOUTUBE_VIDEOS,
}
INSIGHT_METRICS: dict[str, dict[str, tuple[str, ...]]] = {
    "facebook": {"exposures": FACEBOOK_EXPOSURES, "reach": FACEBOOK_REACH},
    "instagram": {
        "exposures": INSTAGRAM_EXPOSURES,
        "reach": ("reach",),
        "views": VIDEO_VIEW_METRICS,
        "saves": ("saved",),
    },
}
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
            database.execute(_MACROS)
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
    con: duckdb.DuckDBPyConnection, reader: _Reader, documents: pl.DataFrame
) -> tuple[pl.DataFrame, list[int]]:
    """Post rows of the plain documents, and the documents left to the parsers."""
    every_record = f"coalesce(all_of(list_transform({reader.records}, lambda r: coalesce(({reader.record_ok}), false))), true)"
    columns = ", ".join(f"{name}: {expression}" for name, expression in reader.columns.items())
    lists = {"records": f"list_transform({reader.records}, lambda r: {{{columns}}})"}
    if "_media_keys" in reader.columns:
        lists["media"] = (
            "list_transform(coalesce(d.includes.media, []), lambda m: {key: m.media_key,"
            " type: text_of(m.type), view_count: count_of(m.public_metrics.view_count)})"
        )
    plain, left = _read_plain(
        con, json.dumps(reader.structure), documents, f"({reader.document_ok}) AND {every_record}", lists
    )
    rows = _records(plain, "records")
    if "media" in plain.columns:
        rows = _with_x_media(rows, _records(plain, "media").drop("record_index"))
    if "_text" in rows.columns:
        rows = _with_texts(rows)
    schema = POST_ROW_SCHEMA.items()
    rows = rows.select(
        pl.col(n).cast(t) if n in rows.columns else pl.lit(None, t).alias(n) for n, t in schema
    )
    return rows, left


def _with_x_media(rows: pl.DataFrame, media: pl.DataFrame) -> pl.DataFrame:
    """A tweet's content type and video views from the media its keys name (`includes.media`)."""
    attached = (
        rows.select("doc_index", "record_index", pl.col("_media_keys").alias("key"))
        .with_columns(pl.int_ranges(pl.col("key").list.len()).alias("position"))
        .explode("key", "position")
        .join(media, on=["doc_index", "key"], how="inner")
        .with_columns(pl.col("type").replace_strict(X_MEDIA_TYPES, default="other").alias("kind"))
        .sort("doc_index", "record_index", "position")
        .group_by("doc_index", "record_index")
        .agg(
            pl.when((pl.col("kind") == "video").any())
            .then(pl.lit("video"))
            .otherwise(pl.col("kind").first())
            .alias("content_type"),
            pl.col("view_count").filter(pl.col("type") == "video").sum().alias("_views"),
            pl.col("view_count").filter(pl.col("type") == "video").count().alias("_counted"),
        )
    )
    return (
        rows.join(attached, on=["doc_index", "record_index"], how="left")
        .with_columns(
            pl.col("content_type").fill_null("text"),
            pl.when(pl.col("_counted") > 0).then(pl.col("_views")).alias("views"),
        )
        .drop("_media_keys", "_views", "_counted")
    )


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


@dataclass(frozen=True)
class _ByRecord:
    posts: pl.DataFrame
    insights: pl.DataFrame
    profiles: pl.DataFrame
    rejected: pl.DataFrame


def _parse_record_by_record(platform: str, documents: pl.DataFrame, *, judged: bool = False) -> _ByRecord:
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
    return _ByRecord(
        posts=_frame(posts, POST_ROW_SCHEMA),
        insights=_frame(insights, INSIGHT_ROW_SCHEMA),
        profiles=_frame(profiles, PROFILE_ROW_SCHEMA),
        rejected=pl.DataFrame(rejected, schema=REJECTION_SCHEMA, orient="row"),
    )


def _frame(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame([{k: row.get(k) for k in schema} for row in rows], schema=schema)
