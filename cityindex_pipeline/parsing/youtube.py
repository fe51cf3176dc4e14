"""YouTube Data API v3 documents: the channel, its uploads playlist, and the videos.

Read record by record (`parse_*`) and, for the videos, set-wise (`VIDEOS_READER`, by `setwise.py`).
"""

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
    obj,
    post_row,
    require,
    rows_from,
    text,
    timestamp,
)
from cityindex_pipeline.parsing.plain import JSON, PostReader, every, struct_ok

MAX_DURATION_SECONDS = 7 * 24 * 3600
"""A week: YouTube caps uploads at 12 hours; longer is not a video's duration."""
_DURATION = re.compile(r"^P(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)S)?)?$")


def parse_channel(body: str) -> Parsed:
    return rows_from(require(load_json(body), "items", list, "channel list"), _channel)


def _channel(channel: dict[str, Any]) -> dict[str, Any]:
    statistics = obj(channel.get("statistics"), "statistics")
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
    details = obj(item.get("contentDetails"), "contentDetails")
    return {
        "video_id": identifier(details, "videoId"),
        "published_at_utc": timestamp(details.get("videoPublishedAt"), "videoPublishedAt"),
    }


def parse_videos(body: str) -> Parsed:
    return rows_from(require(load_json(body), "items", list, "video list"), _video)


def _video(video: dict[str, Any]) -> dict[str, Any]:
    snippet = obj(video.get("snippet"), "snippet")
    statistics = obj(video.get("statistics"), "statistics")
    video_id = identifier(video)
    parts = (text(snippet.get("title"), "title"), text(snippet.get("description"), "description"))
    words = " ".join(part for part in parts if part is not None)
    return post_row(
        post_id=video_id,
        published_at_utc=timestamp(snippet.get("publishedAt"), "publishedAt"),  # with or without millis
        content_type="video",
        text_excerpt=excerpt(words),
        permalink=f"https://www.youtube.com/watch?v={video_id}",
        hashtags=hashtags_in(words),
        likes=count(
            statistics.get("likeCount"), "likeCount", numeric_string=True
        ),  # absent when likes are hidden
        comments=count(
            statistics.get("commentCount"), "commentCount", numeric_string=True
        ),  # absent when comments are off
        views=count(statistics.get("viewCount"), "viewCount", numeric_string=True),
        duration_seconds=duration_seconds(obj(video.get("contentDetails"), "contentDetails").get("duration")),
    )


def duration_seconds(value: Any) -> int | None:
    """ISO 8601 durations as YouTube writes them: `PT45S`, `PT4M13S`, `PT1H4M`, `P1DT2H`; at most
    `MAX_DURATION_SECONDS`."""
    if value is None:
        return None
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match or value in ("P", "PT"):
        raise RecordError(f"duration is not ISO 8601: {str(value)[:40]!r}")
    if any(part is not None and len(part) > 12 for part in match.groups()):
        raise RecordError(f"duration is implausibly long: {value[:40]!r}")  # not converted: int() has limits
    days, hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total > MAX_DURATION_SECONDS:
        raise RecordError(f"duration is implausibly long: {value[:40]!r}")
    return total


_DURATION_MACRO = """
CREATE MACRO _duration(t) AS CASE WHEN t IS NOT NULL THEN
    ((coalesce(try_cast(regexp_extract(t, '([0-9]+)D', 1) AS BIGINT), 0) * 24
      + coalesce(try_cast(regexp_extract(t, '([0-9]+)H', 1) AS BIGINT), 0)) * 60
      + coalesce(try_cast(regexp_extract(t, '([0-9]+)M', 1) AS BIGINT), 0)) * 60
      + coalesce(try_cast(regexp_extract(t, '([0-9]+)S', 1) AS BIGINT), 0) END;
"""
"""`duration_seconds` in DuckDB: the days, hours, minutes and seconds of an ISO 8601 duration."""

VIDEOS_READER = PostReader(
    structure={
        "error": JSON,
        "items": [
            {
                "id": JSON,
                "snippet": {"publishedAt": JSON, "title": JSON, "description": JSON},
                "statistics": {"likeCount": JSON, "commentCount": JSON, "viewCount": JSON},
                "contentDetails": {"duration": JSON},
            }
        ],
    },
    document_ok="d.error IS NULL AND d.items IS NOT NULL",
    records="d.items",
    record_ok=every(
        (
            "id_ok(r.id)",
            "r.snippet IS NOT NULL AND time_ok(r.snippet.publishedAt)",
            "text_ok(r.snippet.title)",
            "text_ok(r.snippet.description)",
            struct_ok("r.statistics", "likeCount", "commentCount", "viewCount"),
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
    macros=_DURATION_MACRO,
)
"""The videos set-wise: the columns `_video` reads, from videos of the plain shape only."""
