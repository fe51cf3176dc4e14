"""Facebook Graph API documents: the page, its published posts, and the posts' insights."""

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

STATUS_TYPES = {
    "added_photos": "photo",
    "added_video": "video",
    "mobile_status_update": "text",
    "shared_story": "link",
}

EXPOSURE_METRICS = ("post_media_view", "post_impressions")
"""`post_impressions` was retired for `post_media_view` in November 2025; either is an exposure count."""
REACH_METRICS = ("post_impressions_unique",)


def parse_page(body: str) -> Parsed:
    page = load_json(body)
    if not isinstance(page, dict) or "id" not in page:
        raise DocumentError("not a page document: no 'id'")
    parsed = Parsed()
    try:
        # followers_count is the audience; fan_count (page likes) is kept in raw only
        parsed.rows.append(
            {
                "platform_account_id": identifier(page),
                "followers": count(page.get("followers_count"), "followers_count"),
            }
        )
    except RecordError as error:
        parsed.reject(page, str(error))
    return parsed


def parse_posts(body: str) -> Parsed:
    payload = load_json(body)
    parsed = Parsed()
    for post in require(payload, "data", list, "posts"):  # a page may be empty and still have `next`
        try:
            parsed.rows.append(_post(post))
        except (RecordError, AttributeError, TypeError) as error:
            parsed.reject(post, str(error))
    return parsed


def _post(post: dict[str, Any]) -> dict[str, Any]:
    message = post.get("message")  # absent on posts without text
    status_type = post.get("status_type")
    return post_row(
        post_id=identifier(post),
        published_at_utc=timestamp(post.get("created_time"), "created_time"),
        content_type=STATUS_TYPES.get(status_type, "other"),
        text_excerpt=excerpt(message),
        permalink=post.get("permalink_url"),
        hashtags=hashtags_in(message),
        likes=count(_summary_total(post, "reactions"), "reactions"),
        comments=count(_summary_total(post, "comments"), "comments"),
        shares=count((post.get("shares") or {}).get("count"), "shares"),  # absent: never shared
    )


def _summary_total(post: dict[str, Any], edge: str) -> Any:
    return ((post.get(edge) or {}).get("summary") or {}).get("total_count")


def parse_post_insights(body: str) -> Parsed:
    """The multi-id lookup: `{post_id: {"insights": {"data": [metric, ...]}, "id": post_id}}`."""
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise DocumentError("not an insights document: expected an object keyed by post id")
    parsed = Parsed()
    for key, entry in payload.items():
        try:
            metrics = metrics_of(entry)
            parsed.rows.append(
                {
                    "post_id": identifier(entry) if isinstance(entry, dict) and "id" in entry else key,
                    "exposures": count(first_present(metrics, EXPOSURE_METRICS), "exposures"),
                    "reach": count(first_present(metrics, REACH_METRICS), "reach"),
                    "views": None,
                    "saves": None,
                }
            )
        except RecordError as error:
            parsed.reject(entry if isinstance(entry, dict) else {"id": key, "value": entry}, str(error))
    return parsed
