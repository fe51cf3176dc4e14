"""Facebook Graph API documents: the page, its published posts, and the posts' insights.

Read record by record (`parse_*`) and, for the posts, set-wise (`POSTS_READER`, by `setwise.py`).
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
    obj,
    post_row,
    require,
    rows_from,
    text,
    timestamp,
)
from cityindex_pipeline.parsing.plain import JSON, PostReader, every, media_type

STATUS_TYPES = {
    "added_photos": "photo",
    "added_video": "video",
    "mobile_status_update": "text",
    "shared_story": "link",
}

EXPOSURE_METRICS = ("post_media_view", "post_impressions")
"""`post_impressions` was retired for `post_media_view` in November 2025; either is an exposure count."""
REACH_METRICS = ("post_impressions_unique",)
INSIGHT_METRICS = {"exposures": EXPOSURE_METRICS, "reach": REACH_METRICS}
"""Each field of a post's insights, from the first of its metric names that has a value."""


def parse_page(body: str) -> Parsed:
    # followers_count is the audience; fan_count (page likes) stays in raw only
    return rows_from([graph_object(body, "page")], _page)


def _page(page: dict[str, Any]) -> dict[str, Any]:
    return {
        "platform_account_id": identifier(page),
        "followers": count(page.get("followers_count"), "followers_count"),
    }


def parse_posts(body: str) -> Parsed:
    # a page may be empty and still have `next`
    return rows_from(require(load_json(body), "data", list, "posts"), _post)


def _post(post: dict[str, Any]) -> dict[str, Any]:
    message = text(post.get("message"), "message")  # absent on posts without text
    status_type = text(post.get("status_type"), "status_type")
    return post_row(
        post_id=identifier(post),
        published_at_utc=timestamp(post.get("created_time"), "created_time"),
        content_type=STATUS_TYPES.get(status_type, "other"),
        text_excerpt=excerpt(message),
        permalink=text(post.get("permalink_url"), "permalink_url"),
        hashtags=hashtags_in(message),
        likes=count(_summary_total(post, "reactions"), "reactions"),
        comments=count(_summary_total(post, "comments"), "comments"),
        shares=count(obj(post.get("shares"), "shares").get("count"), "shares"),  # absent: never shared
    )


def _summary_total(post: dict[str, Any], edge: str) -> Any:
    return obj(obj(post.get(edge), edge).get("summary"), f"{edge}.summary").get("total_count")


def parse_post_insights(body: str) -> Parsed:
    """The multi-id lookup: `{post_id: {"insights": {"data": [metric, ...]}, "id": post_id}}`."""
    return rows_from(lookup_entries(body), lambda entry: insight_row(entry, **INSIGHT_METRICS))


POSTS_READER = PostReader(
    structure={
        "error": JSON,
        "data": [
            {
                "id": JSON,
                "created_time": JSON,
                "message": JSON,
                "permalink_url": JSON,
                "status_type": JSON,
                "shares": {"count": JSON},
                "reactions": {"summary": {"total_count": JSON}},
                "comments": {"summary": {"total_count": JSON}},
            }
        ],
    },
    document_ok="d.error IS NULL AND d.data IS NOT NULL",
    records="d.data",
    record_ok=every(
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
        "content_type": media_type("text_of(r.status_type)", STATUS_TYPES),
        "_text": "text_of(r.message)",
        "permalink": "text_of(r.permalink_url)",
        "likes": "count_of(r.reactions.summary.total_count)",
        "comments": "count_of(r.comments.summary.total_count)",
        "shares": "count_of(r.shares.count)",
    },
)
"""The posts set-wise: the columns `_post` reads, from posts of the plain shape only."""
