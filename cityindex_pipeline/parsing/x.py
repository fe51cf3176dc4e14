"""X API v2 documents: the user and the user's posts (with the media expansion)."""

from __future__ import annotations

from typing import Any

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

MEDIA_TYPES = {"photo": "photo", "video": "video", "animated_gif": "video"}


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
        likes=count(metrics.get("like_count"), "like_count"),
        comments=count(metrics.get("reply_count"), "reply_count"),
        shares=count(metrics.get("retweet_count"), "retweet_count"),
        quotes=count(metrics.get("quote_count"), "quote_count"),
        saves=count(metrics.get("bookmark_count"), "bookmark_count"),
        exposures=count(metrics.get("impression_count"), "impression_count"),  # absent in older captures
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
