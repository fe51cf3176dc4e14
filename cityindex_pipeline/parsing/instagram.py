"""Instagram Graph API documents: the IG user, its media, and the media insights."""

from __future__ import annotations

from typing import Any

from cityindex_pipeline.parsing.common import (
    DocumentError,
    Parsed,
    RecordError,
    count,
    excerpt,
    first_present,
    hashtags_in,
    identifier,
    load_json,
    metrics_of,
    post_row,
    require,
    timestamp,
)

MEDIA_TYPES = {"IMAGE": "photo", "VIDEO": "video", "CAROUSEL_ALBUM": "album"}

EXPOSURE_METRICS = ("views", "impressions")
"""API v22 (2025) retired `impressions` and `plays` for `views`."""
VIDEO_VIEW_METRICS = ("views", "plays")


def parse_user(body: str) -> Parsed:
    user = load_json(body)
    if not isinstance(user, dict) or "id" not in user:
        raise DocumentError("not an IG user document: no 'id'")
    parsed = Parsed()
    try:
        parsed.rows.append(
            {
                "platform_account_id": identifier(user),
                "followers": count(user.get("followers_count"), "followers_count"),
            }
        )
    except RecordError as error:
        parsed.reject(user, str(error))
    return parsed


def parse_media(body: str) -> Parsed:
    payload = load_json(body)
    parsed = Parsed()
    for media in require(payload, "data", list, "media"):
        try:
            parsed.rows.append(_media(media))
        except (RecordError, AttributeError, TypeError) as error:
            parsed.reject(media, str(error))
    return parsed


def _media(media: dict[str, Any]) -> dict[str, Any]:
    caption = media.get("caption")  # absent on media without a caption
    is_reel = media.get("media_product_type") == "REELS"
    return post_row(
        post_id=identifier(media),
        published_at_utc=timestamp(media.get("timestamp"), "timestamp"),
        content_type="video" if is_reel else MEDIA_TYPES.get(media.get("media_type"), "other"),
        text_excerpt=excerpt(caption),
        permalink=media.get("permalink"),
        hashtags=hashtags_in(caption),
        likes=count(media.get("like_count"), "like_count"),  # absent when the owner hides likes
        comments=count(media.get("comments_count"), "comments_count"),
    )


def parse_media_insights(body: str) -> Parsed:
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise DocumentError("not an insights document: expected an object keyed by media id")
    parsed = Parsed()
    for key, entry in payload.items():
        try:
            metrics = metrics_of(entry)
            parsed.rows.append(
                {
                    "post_id": identifier(entry) if isinstance(entry, dict) and "id" in entry else key,
                    "exposures": count(first_present(metrics, EXPOSURE_METRICS), "exposures"),
                    "reach": count(metrics.get("reach"), "reach"),
                    "views": count(first_present(metrics, VIDEO_VIEW_METRICS), "views"),
                    "saves": count(metrics.get("saved"), "saved"),
                }
            )
        except RecordError as error:
            parsed.reject(entry if isinstance(entry, dict) else {"id": key, "value": entry}, str(error))
    return parsed
