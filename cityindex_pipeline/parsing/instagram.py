"""Instagram Graph API documents: the IG user, its media, and the media insights."""

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

MEDIA_TYPES = {"IMAGE": "photo", "VIDEO": "video", "CAROUSEL_ALBUM": "album"}

EXPOSURE_METRICS = ("views", "impressions")
"""API v22 (2025) retired `impressions` and `plays` for `views`."""
VIDEO_VIEW_METRICS = ("views", "plays")


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
    return rows_from(lookup_entries(body), _insight)


def _insight(entry: dict[str, Any]) -> dict[str, Any]:
    return insight_row(
        entry, exposures=EXPOSURE_METRICS, reach=("reach",), views=VIDEO_VIEW_METRICS, saves=("saved",)
    )
