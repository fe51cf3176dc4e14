"""YouTube's documents: the channel, its uploads playlist back past the month, and its videos in fifties.

The playlist lists uploads of neighbouring months too (newest first), regenerated from their own months.
"""

from __future__ import annotations

import hashlib
import random
import string
from datetime import datetime
from typing import Any

from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.simulated.documents import (
    IDS_PER_LOOKUP,
    PAGE_SIZE,
    Page,
    chunked,
    digest_token,
    random_token,
    request_url,
)
from cityindex_pipeline.sources.simulated.posts import Post, Skeleton, full_text, posts_of, skeletons_of
from cityindex_pipeline.sources.simulated.text import SENTENCES, city_name
from cityindex_pipeline.sources.simulated.world import Context, age_months, paging_rng

HIDDEN_COUNT_RATE = 0.05
_YOUTUBE = "https://www.googleapis.com/youtube/v3"


def youtube_responses(context: Context) -> list[Page]:
    account, month = context.account, context.month
    rng = paging_rng(context)
    videos = posts_of(context, skeletons_of(context.seed, account, month))
    newer = _newer_videos(context)
    older = _older_videos(context, rng.randint(1, 3))
    listed = [*newer, *(video.skeleton for video in videos), *older]
    total = max(len(listed), round(context.profile.activity * (age_months(account, month) + 1) * 0.9))
    documents = [_youtube_channel(rng, context, total)]
    documents += _youtube_playlist(rng, context, listed, total)
    for chunk in chunked(videos, IDS_PER_LOOKUP):
        documents.append(_youtube_videos(rng, context, chunk))
    return documents


def _newer_videos(context: Context) -> list[Skeleton]:
    """Up to two uploads of the next month already out when the pull ran (the playlist's first items)."""
    upcoming = skeletons_of(context.seed, context.account, context.month.next())
    return [video for video in upcoming if video.published < context.fetch_start][-2:]


def _older_videos(context: Context, wanted: int) -> list[Skeleton]:
    """The newest uploads before the month, regenerated from their own months (up to two years back)."""
    found: list[Skeleton] = []
    month = context.month.previous()
    for _ in range(24):
        if len(found) >= wanted or not context.account.active_in(month):
            break
        found.extend(skeletons_of(context.seed, context.account, month))
        month = month.previous()
    return found[:wanted]


def _uploads_playlist(channel_id: str) -> str:
    return "UU" + channel_id[2:]


def _youtube_channel(rng: random.Random, context: Context, video_count: int) -> Page:
    """Counts as strings; a channel hiding its subscribers has no `subscriberCount` at all."""
    account = context.account
    statistics: dict[str, Any] = {
        "viewCount": str(round(context.followers * context.profile.lifetime_views_per_follower)),
    }
    if not context.profile.hidden:
        statistics["subscriberCount"] = str(context.followers)
    statistics["hiddenSubscriberCount"] = context.profile.hidden
    statistics["videoCount"] = str(video_count)
    channel = {
        "kind": "youtube#channel",
        "etag": random_token(rng, 27),
        "id": account.platform_account_id,
        "snippet": {
            "title": account.display_name,
            "customUrl": f"@{account.account_handle.lower()}",
            "publishedAt": f"{account.started_on.isoformat()}T08:00:00Z",
        },
        "contentDetails": {
            "relatedPlaylists": {"likes": "", "uploads": _uploads_playlist(account.platform_account_id)}
        },
        "statistics": statistics,
    }
    payload = {
        "kind": "youtube#channelListResponse",
        "etag": random_token(rng, 27),
        "pageInfo": {"totalResults": 1, "resultsPerPage": 5},
        "items": [channel],
    }
    params = {"part": "snippet,statistics,contentDetails", "id": account.platform_account_id}
    return Page("channel", payload, request_url(f"{_YOUTUBE}/channels", params))


def _youtube_playlist(rng: random.Random, context: Context, listed: list[Skeleton], total: int) -> list[Page]:
    """Newest first in pages of 50, stopping on the page that passes the month's start."""
    channel_id = context.account.platform_account_id
    playlist = _uploads_playlist(channel_id)
    chunks = chunked(listed, PAGE_SIZE["playlist_items"]) or [[]]
    tokens = ["E" + random_token(rng, 13, string.ascii_letters + string.digits) for _ in chunks]
    base = {
        "part": "snippet,contentDetails",
        "playlistId": playlist,
        "maxResults": str(PAGE_SIZE["playlist_items"]),
    }
    pages = []
    for number, chunk in enumerate(chunks):
        payload: dict[str, Any] = {"kind": "youtube#playlistItemListResponse", "etag": random_token(rng, 27)}
        if number + 1 < len(chunks):
            payload["nextPageToken"] = tokens[number]
        if number:
            payload["prevPageToken"] = "P" + tokens[number - 1][1:]
        payload["items"] = [_playlist_item(rng, context.account, playlist, skeleton) for skeleton in chunk]
        payload["pageInfo"] = {"totalResults": total, "resultsPerPage": PAGE_SIZE["playlist_items"]}
        params = {**base, **({"pageToken": tokens[number - 1]} if number else {})}
        pages.append(Page("playlist_items", payload, request_url(f"{_YOUTUBE}/playlistItems", params)))
    return pages


def _youtube_time(moment: datetime, millis: int | None = None) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis is not None else f"{text}Z"


def _playlist_item(rng: random.Random, account: Account, playlist: str, skeleton: Skeleton) -> dict[str, Any]:
    published = _youtube_time(skeleton.published)
    return {
        "kind": "youtube#playlistItem",
        "etag": random_token(rng, 27),
        "id": digest_token("playlist-item", playlist, skeleton.post_id)[:48],
        "snippet": {
            "publishedAt": published,
            "channelId": account.platform_account_id,
            "title": _video_title(account, skeleton.post_id),
            "resourceId": {"kind": "youtube#video", "videoId": skeleton.post_id},
        },
        "contentDetails": {"videoId": skeleton.post_id, "videoPublishedAt": published},
    }


def _youtube_videos(rng: random.Random, context: Context, videos: list[Post]) -> Page:
    items = [_youtube_video(rng, context, video) for video in videos]
    payload = {
        "kind": "youtube#videoListResponse",
        "etag": random_token(rng, 27),
        "items": items,
        "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
    }
    params = {"part": "snippet,statistics,contentDetails", "id": ",".join(v.skeleton.post_id for v in videos)}
    return Page("videos", payload, request_url(f"{_YOUTUBE}/videos", params))


def _video_title(account: Account, video_id: str) -> str:
    """A function of the video id alone, so the playlist of any month gives the same title."""
    digest = hashlib.sha256(video_id.encode()).digest()
    return SENTENCES[digest[0] % len(SENTENCES)].format(city=city_name(account)).rstrip(".?")


def _youtube_video(rng: random.Random, context: Context, video: Post) -> dict[str, Any]:
    """Counts as strings; `likeCount` absent when likes are hidden, `commentCount` when comments are off."""
    skeleton, stats = video.skeleton, video.stats
    city = city_name(context.account)
    statistics: dict[str, str] = {"viewCount": str(stats.views)}
    if rng.random() >= HIDDEN_COUNT_RATE:
        statistics["likeCount"] = str(stats.likes)
    statistics["favoriteCount"] = "0"
    if rng.random() >= HIDDEN_COUNT_RATE:
        statistics["commentCount"] = str(stats.comments)
    return {
        "kind": "youtube#video",
        "etag": random_token(rng, 27),
        "id": skeleton.post_id,
        "snippet": {
            "publishedAt": _youtube_time(skeleton.published, skeleton.millis),
            "channelId": context.account.platform_account_id,
            "title": _video_title(context.account, skeleton.post_id),
            "description": full_text(video) or "",
            "tags": [city, "China travel", f"{city} travel"],
        },
        "contentDetails": {"duration": video.duration, "definition": "hd" if rng.random() < 0.9 else "sd"},
        "statistics": statistics,
    }
