"""Instagram Graph API documents: the IG user, its media, and the media insights.

Read record by record (`parse_*`) and, for the media, set-wise (`MEDIA_READER`, by `setwise.py`).
"""

from __future__ import annotations

from typing import Any

from cityindex_pipeline.parsing.common import (
    Parsed,
    count,
    excerpt,
    graph_object,
    hashtags_in,
    identifier,
    insight_row,
    load_json,
    lookup_entries,
    post_row,
    require,
    rows_from,
    text,
    timestamp,
)
from cityindex_pipeline.parsing.plain import JSON, PostReader, every, media_type

MEDIA_TYPES = {"IMAGE": "photo", "VIDEO": "video", "CAROUSEL_ALBUM": "album"}

EXPOSURE_METRICS = ("views", "impressions")
"""API v22 (2025) retired `impressions` and `plays` for `views`."""
VIDEO_VIEW_METRICS = ("views", "plays")
INSIGHT_METRICS = {
    "exposures": EXPOSURE_METRICS,
    "reach": ("reach",),
    "views": VIDEO_VIEW_METRICS,
    "saves": ("saved",),
}
"""Each field of a medium's insights, from the first of its metric names that has a value."""


def parse_user(body: str) -> Parsed:
    return rows_from([graph_object(body, "IG user")], _user)


def _user(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "platform_account_id": identifier(user),
        "followers": count(user.get("followers_count"), "followers_count"),
    }


def parse_media(body: str) -> Parsed:
    return rows_from(require(load_json(body), "data", list, "media"), _media)


def _media(media: dict[str, Any]) -> dict[str, Any]:
    caption = text(media.get("caption"), "caption")  # absent on media without a caption
    is_reel = text(media.get("media_product_type"), "media_product_type") == "REELS"
    media_type = text(media.get("media_type"), "media_type")
    return post_row(
        post_id=identifier(media),
        published_at_utc=timestamp(media.get("timestamp"), "timestamp"),
        content_type="video" if is_reel else MEDIA_TYPES.get(media_type, "other"),
        text_excerpt=excerpt(caption),
        permalink=text(media.get("permalink"), "permalink"),
        hashtags=hashtags_in(caption),
        likes=count(media.get("like_count"), "like_count"),  # absent when the owner hides likes
        comments=count(media.get("comments_count"), "comments_count"),
    )


def parse_media_insights(body: str) -> Parsed:
    return rows_from(lookup_entries(body), lambda entry: insight_row(entry, **INSIGHT_METRICS))


MEDIA_READER = PostReader(
    structure={
        "error": JSON,
        "data": [
            {
                "id": JSON,
                "timestamp": JSON,
                "caption": JSON,
                "media_type": JSON,
                "media_product_type": JSON,
                "permalink": JSON,
                "like_count": JSON,
                "comments_count": JSON,
            }
        ],
    },
    document_ok="d.error IS NULL AND d.data IS NOT NULL",
    records="d.data",
    record_ok=every(
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
        + media_type("text_of(r.media_type)", MEDIA_TYPES)
        + " END",
        "_text": "text_of(r.caption)",
        "permalink": "text_of(r.permalink)",
        "likes": "count_of(r.like_count)",
        "comments": "count_of(r.comments_count)",
    },
)
"""The media set-wise: the columns `_media` reads, from media of the plain shape only."""
