"""YouTube Data API v3 documents: the channel, its uploads playlist, and the videos."""

from __future__ import annotations

import re
from typing import Any

from cityindex_pipeline.parsing.common import (  # YouTube sends every count as a JSON string
    Parsed,
    RecordError,
    count,
    excerpt,
    hashtags_in,
    identifier,
    load_json,
    post_row,
    require,
    rows_from,
    timestamp,
)

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_channel(body: str) -> Parsed:
    return rows_from(require(load_json(body), "items", list, "channel list"), _channel)


def _channel(channel: dict[str, Any]) -> dict[str, Any]:
    statistics = channel.get("statistics") or {}
    hidden = statistics.get("hiddenSubscriberCount") is True  # then subscriberCount is absent
    subscribers = statistics.get("subscriberCount")
    return {
        "platform_account_id": identifier(channel),
        "followers": None if hidden else count(subscribers, "subscriberCount", numeric_string=True),
    }


def parse_playlist_items(body: str) -> Parsed:
    """Uploads, newest first: which videos exist and when they were published."""
    return rows_from(require(load_json(body), "items", list, "playlist items"), _playlist_item)


def _playlist_item(item: dict[str, Any]) -> dict[str, Any]:
    details = item.get("contentDetails") or {}
    return {
        "video_id": identifier(details, "videoId"),
        "published_at_utc": timestamp(details.get("videoPublishedAt"), "videoPublishedAt"),
    }


def parse_videos(body: str) -> Parsed:
    return rows_from(require(load_json(body), "items", list, "video list"), _video)


def _video(video: dict[str, Any]) -> dict[str, Any]:
    snippet = video.get("snippet") or {}
    statistics = video.get("statistics") or {}
    video_id = identifier(video)
    text = " ".join(
        part for part in (snippet.get("title"), snippet.get("description")) if isinstance(part, str)
    )
    return post_row(
        post_id=video_id,
        published_at_utc=timestamp(snippet.get("publishedAt"), "publishedAt"),  # with or without millis
        content_type="video",
        text_excerpt=excerpt(text),
        permalink=f"https://www.youtube.com/watch?v={video_id}",
        hashtags=hashtags_in(text),
        likes=count(
            statistics.get("likeCount"), "likeCount", numeric_string=True
        ),  # absent when likes are hidden
        comments=count(
            statistics.get("commentCount"), "commentCount", numeric_string=True
        ),  # absent when comments are off
        views=count(statistics.get("viewCount"), "viewCount", numeric_string=True),
        duration_seconds=duration_seconds((video.get("contentDetails") or {}).get("duration")),
    )


def duration_seconds(value: Any) -> int | None:
    """ISO 8601 durations as YouTube writes them: `PT45S`, `PT4M13S`, `PT1H4M`, `P1DT2H`."""
    if value is None:
        return None
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match or value in ("P", "PT"):
        raise RecordError(f"duration is not ISO 8601: {str(value)[:40]!r}")
    days, hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds
