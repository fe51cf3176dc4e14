"""X API v2 documents: the user and the user's posts (with the media expansion).

Read record by record (`parse_*`) and, for the posts, set-wise (`TWEETS_READER`, by `setwise.py`).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from cityindex_pipeline.parsing.common import (
    DocumentError,
    Parsed,
    RecordError,
    count,
    excerpt,
    identifier,
    kind_of,
    load_json,
    obj,
    post_row,
    rows_from,
    text,
    timestamp,
)
from cityindex_pipeline.parsing.plain import JSON, PostReader, every, struct_ok

MEDIA_TYPES = {"photo": "photo", "video": "video", "animated_gif": "video"}
PUBLIC_METRICS = {
    "likes": "like_count",
    "comments": "reply_count",
    "shares": "retweet_count",
    "quotes": "quote_count",
    "saves": "bookmark_count",
    "exposures": "impression_count",  # absent in older captures
}
"""A post's counts: the column of `clean.posts` each of its `public_metrics` gives."""


def parse_user(body: str) -> Parsed:
    payload = load_json(body)
    user = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(user, dict):
        raise DocumentError(_errors_text(payload) or "not a user document: no 'data' object")
    return rows_from([user], _user)


def _user(user: dict[str, Any]) -> dict[str, Any]:
    metrics = obj(user.get("public_metrics"), "public_metrics")
    return {
        "platform_account_id": identifier(user),
        "followers": count(metrics.get("followers_count"), "followers_count"),
    }


def parse_tweets(body: str) -> Parsed:
    payload = load_json(body)
    if not isinstance(payload, dict) or ("data" not in payload and "meta" not in payload):
        raise DocumentError(_errors_text(payload) or "not a tweets document: neither 'data' nor 'meta'")
    data = payload.get("data", [])  # a month without posts has only `meta`
    if not isinstance(data, list):
        raise DocumentError("not a tweets document: 'data' is not a list")
    includes = _document_part(payload.get("includes"), dict, "includes")
    media = {
        m.get("media_key"): m
        for m in _document_part(includes.get("media"), list, "includes.media")
        if isinstance(m, dict) and isinstance(m.get("media_key"), str)
    }
    parsed = rows_from(data, lambda tweet: _tweet(tweet, media))
    for error in _document_part(payload.get("errors"), list, "errors"):  # partial errors beside `data`
        parsed.reject(error if isinstance(error, dict) else {"error": error}, "partial error returned by X")
    return parsed


def _document_part(value: Any, kind: type, name: str) -> Any:
    """An optional part of the document (`includes`, `errors`): absent reads as empty."""
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise DocumentError(f"not a tweets document: {name} is not {kind_of(kind())}: {kind_of(value)}")
    return value


def _tweet(tweet: dict[str, Any], media: dict[str, dict[str, Any]]) -> dict[str, Any]:
    metrics = obj(tweet.get("public_metrics"), "public_metrics")
    keys = _absent_as_empty(obj(tweet.get("attachments"), "attachments").get("media_keys"))
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise RecordError(f"attachments.media_keys is not an array of texts: {kind_of(keys)}")
    attached = [media[key] for key in keys if key in media]
    kinds = [MEDIA_TYPES.get(text(item.get("type"), "media type"), "other") for item in attached]
    content_type = "video" if "video" in kinds else (kinds[0] if kinds else "text")
    video_views = [
        obj(item.get("public_metrics"), "media public_metrics").get("view_count")
        for item in attached
        if item.get("type") == "video"
    ]
    tags = _absent_as_empty(obj(tweet.get("entities"), "entities").get("hashtags"))
    if not isinstance(tags, list):
        raise RecordError(f"entities.hashtags is not an array: {kind_of(tags)}")
    hashtags = [tag for tag in (text(obj(item, "hashtag").get("tag"), "tag") for item in tags) if tag]
    tweet_id = identifier(tweet)
    return post_row(
        post_id=tweet_id,
        published_at_utc=timestamp(tweet.get("created_at"), "created_at"),
        content_type=content_type,
        text_excerpt=excerpt(text(tweet.get("text"), "text")),
        permalink=f"https://x.com/i/web/status/{tweet_id}",
        hashtags=hashtags,
        **{column: count(metrics.get(name), name) for column, name in PUBLIC_METRICS.items()},
        views=_total(video_views),
    )


def _absent_as_empty(value: Any) -> Any:
    return [] if value is None else value


def _total(values: list[Any]) -> int | None:
    counted = [count(value, "view_count") for value in values]
    present = [value for value in counted if value is not None]
    return sum(present) if present else None


def _errors_text(payload: Any) -> str:
    """X's errors without data (problem objects with `title` and `status` are refused by `load_json`)."""
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        return f"an API error body: {str(first.get('title', ''))[:200]} {str(first.get('detail', ''))[:200]}".strip()
    return ""


def _with_media(rows: pl.DataFrame, media: pl.DataFrame) -> pl.DataFrame:
    """A tweet's content type and video views from the media its keys name (`includes.media`), as
    `_tweet` reads them."""
    attached = (
        rows.select("doc_index", "record_index", pl.col("_media_keys").alias("key"))
        .with_columns(pl.int_ranges(pl.col("key").list.len()).alias("position"))
        .explode("key", "position")
        .join(media, on=["doc_index", "key"], how="inner")
        .with_columns(pl.col("type").replace_strict(MEDIA_TYPES, default="other").alias("kind"))
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


TWEETS_READER = PostReader(
    structure={
        "error": JSON,
        "errors": JSON,
        "data": [
            {
                "id": JSON,
                "text": JSON,
                "created_at": JSON,
                "public_metrics": dict.fromkeys(PUBLIC_METRICS.values(), JSON),
                "entities": {"hashtags": [{"tag": JSON}]},
                "attachments": {"media_keys": [JSON]},
            }
        ],
        "includes": {"media": [{"media_key": JSON, "type": JSON, "public_metrics": {"view_count": JSON}}]},
    },
    # `errors` beside the data are partial errors the parser records as rejections
    document_ok=(
        "d.error IS NULL AND (d.errors IS NULL OR d.errors::VARCHAR = '[]') AND d.data IS NOT NULL"
        " AND (d.includes IS NULL OR d.includes.media IS NOT NULL)"
        " AND all_of(list_transform(coalesce(d.includes.media, []), lambda m: starts_with(m.media_key::VARCHAR, '\"')"
        " AND text_ok(m.type) AND "
        + struct_ok("m.public_metrics", "view_count")
        + " AND count_ok(m.public_metrics.view_count)))"
        " AND len(list_distinct(list_transform(coalesce(d.includes.media, []), lambda m: m.media_key)))"
        " = len(coalesce(d.includes.media, []))"
    ),
    records="d.data",
    record_ok=every(
        (
            "id_ok(r.id)",
            "time_ok(r.created_at)",
            "text_ok(r.text)",
            struct_ok("r.public_metrics", *PUBLIC_METRICS.values()),
            *(f"count_ok(r.public_metrics.{name})" for name in PUBLIC_METRICS.values()),
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
        **{column: f"count_of(r.public_metrics.{name})" for column, name in PUBLIC_METRICS.items()},
        "_media_keys": "coalesce(r.attachments.media_keys, [])",
    },
    media=(
        "list_transform(coalesce(d.includes.media, []), lambda m: {key: m.media_key,"
        " type: text_of(m.type), view_count: count_of(m.public_metrics.view_count)})"
    ),
    with_media=_with_media,
)
"""The posts set-wise: the columns `_tweet` reads, from posts of the plain shape only; their media
read beside them and joined by `_with_media`."""
