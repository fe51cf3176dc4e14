"""One parser per platform endpoint: a pure function from a response body to rows and rejections."""

from __future__ import annotations

from collections.abc import Callable

from cityindex_pipeline.parsing import facebook, instagram, x, youtube
from cityindex_pipeline.parsing.common import CONTENT_TYPES, DocumentError, Parsed, RecordError, Rejection

PARSERS: dict[tuple[str, str], Callable[[str], Parsed]] = {
    ("facebook", "page"): facebook.parse_page,
    ("facebook", "posts"): facebook.parse_posts,
    ("facebook", "post_insights"): facebook.parse_post_insights,
    ("instagram", "user"): instagram.parse_user,
    ("instagram", "media"): instagram.parse_media,
    ("instagram", "media_insights"): instagram.parse_media_insights,
    ("x", "user"): x.parse_user,
    ("x", "tweets"): x.parse_tweets,
    ("youtube", "channel"): youtube.parse_channel,
    ("youtube", "playlist_items"): youtube.parse_playlist_items,
    ("youtube", "videos"): youtube.parse_videos,
}

PROFILE_ENDPOINTS = {"facebook": "page", "instagram": "user", "x": "user", "youtube": "channel"}
POST_ENDPOINTS = {"facebook": "posts", "instagram": "media", "x": "tweets", "youtube": "videos"}
INSIGHT_ENDPOINTS = {"facebook": "post_insights", "instagram": "media_insights"}


def parse_document(platform: str, endpoint: str, body: str) -> Parsed:
    """Dispatch to the endpoint's parser; an unknown endpoint is a DocumentError, not a KeyError.
    Whatever the body holds, the outcome is rows and rejections or a DocumentError with the reason:
    a value of a kind a parser did not foresee refuses the document by the error's own words."""
    parser = PARSERS.get((platform, endpoint))
    if parser is None:
        raise DocumentError(f"no parser for {platform}/{endpoint}")
    try:
        return parser(body)
    except (AttributeError, TypeError, KeyError, IndexError, OverflowError) as error:
        raise DocumentError(
            f"not a {platform} {endpoint} document: a value of the wrong kind ({type(error).__name__}: {error})"
        ) from None


__all__ = [
    "CONTENT_TYPES",
    "INSIGHT_ENDPOINTS",
    "PARSERS",
    "POST_ENDPOINTS",
    "PROFILE_ENDPOINTS",
    "DocumentError",
    "Parsed",
    "RecordError",
    "Rejection",
    "parse_document",
]
