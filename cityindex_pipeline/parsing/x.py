"""X API v2 documents: the user and the user's posts (with the media expansion)."""

from __future__ import annotations

from typing import Any

from cityindex_pipeline.parsing.common import (
    DocumentError,
    Parsed,
    count,
    excerpt,
    identifier,
    load_json,
    post_row,
    rows_from,
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
    metrics = user.get("public_metrics") or {}
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
    media = {
        m.get("media_key"): m for m in (payload.get("includes") or {}).get("media", []) if isinstance(m, dict)
    }
    parsed = rows_from(data, lambda tweet: _tweet(tweet, media))
    for error in payload.get("errors") or []:  # partial errors come with HTTP 200 beside `data`
        parsed.reject(error if isinstance(error, dict) else {"error": error}, "partial error returned by X")
    return parsed


def _tweet(tweet: dict[str, Any], media: dict[str, dict[str, Any]]) -> dict[str, Any]:
    metrics = tweet.get("public_metrics") or {}
    attached = [media[key] for key in (tweet.get("attachments") or {}).get("media_keys", []) if key in media]
    kinds = [MEDIA_TYPES.get(item.get("type"), "other") for item in attached]
    content_type = "video" if "video" in kinds else (kinds[0] if kinds else "text")
    video_views = [
        (item.get("public_metrics") or {}).get("view_count")
        for item in attached
        if item.get("type") == "video"
    ]
    hashtags = [tag.get("tag") for tag in (tweet.get("entities") or {}).get("hashtags", []) if tag.get("tag")]
    tweet_id = identifier(tweet)
    return post_row(
        post_id=tweet_id,
        published_at_utc=timestamp(tweet.get("created_at"), "created_at"),
        content_type=content_type,
        text_excerpt=excerpt(tweet.get("text")),
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


def _total(values: list[Any]) -> int | None:
    counted = [count(value, "view_count") for value in values]
    present = [value for value in counted if value is not None]
    return sum(present) if present else None


def _errors_text(payload: Any) -> str:
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        return f"API error body: {first.get('title', '')} {first.get('detail', '')}".strip()
    if isinstance(payload, dict) and "title" in payload and "status" in payload:
        return f"API error body: {payload.get('status')} {payload.get('title')}"
    return ""
