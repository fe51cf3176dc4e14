"""X's documents: the user, and its tweets with their media in pages of 100 behind a pagination token."""

from __future__ import annotations

import random
import string
from typing import Any

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.sources.simulated.documents import PAGE_SIZE, Page, chunked, random_token, request_url
from cityindex_pipeline.sources.simulated.posts import Post, full_text, posts_of, skeletons_of
from cityindex_pipeline.sources.simulated.world import Context, age_months, paging_rng

X_IMPRESSIONS_FROM = Month(2023, 7)
_TOKEN_CHARS = string.ascii_lowercase + string.digits
_X_API = "https://api.x.com/2"
X_TWEET_PARAMS = {
    "max_results": "100",
    "tweet.fields": "created_at,public_metrics,entities,attachments",
    "expansions": "attachments.media_keys",
    "media.fields": "type,public_metrics",
}
X_MEDIA_KEY_PREFIX = {"photo": "3_", "video": "7_", "animated_gif": "16_"}


def x_responses(context: Context) -> list[Page]:
    account, month = context.account, context.month
    rng = paging_rng(context)
    age = age_months(account, month) + 1
    user = {
        "data": {
            "id": account.platform_account_id,
            "name": account.display_name,
            "username": account.account_handle,
            "created_at": f"{account.started_on.isoformat()}T00:00:00.000Z",
            "public_metrics": {
                "followers_count": context.followers,
                "following_count": context.profile.following,
                "tweet_count": round(context.profile.activity * age),
                "listed_count": context.followers // 400,
                "like_count": round(context.profile.activity * age * 0.3),
                "media_count": round(context.profile.activity * age * 0.6),
            },
        }
    }
    user_url = request_url(
        f"{_X_API}/users/by/username/{account.account_handle}", {"user.fields": "created_at,public_metrics"}
    )
    base = {
        "start_time": month.start_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": month.end_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **X_TWEET_PARAMS,
    }
    posts = posts_of(context, skeletons_of(context.seed, account, month))
    pages = chunked(posts, PAGE_SIZE["tweets"]) or [[]]
    tokens = [random_token(rng, 45, _TOKEN_CHARS) for _ in pages]
    documents = [Page("user", user, user_url)]
    for number, page in enumerate(pages):
        params = {**base, **({"pagination_token": tokens[number - 1]} if number else {})}
        next_token = tokens[number] if number + 1 < len(pages) else None
        payload = _x_page(rng, page, month, next_token)
        documents.append(
            Page(
                "tweets", payload, request_url(f"{_X_API}/users/{account.platform_account_id}/tweets", params)
            )
        )
    return documents


def _x_page(rng: random.Random, posts: list[Post], month: Month, next_token: str | None) -> dict[str, Any]:
    if not posts:
        return {"meta": {"result_count": 0}}
    tweets, media = [], []
    for post in posts:
        tweet, attached = _x_tweet(rng, post, month)
        tweets.append(tweet)
        media.extend(attached)
    payload: dict[str, Any] = {"data": tweets}
    if media:
        payload["includes"] = {"media": media}
    meta: dict[str, Any] = {
        "result_count": len(tweets),
        "newest_id": tweets[0]["id"],
        "oldest_id": tweets[-1]["id"],
    }
    if next_token:
        meta["next_token"] = next_token
    payload["meta"] = meta
    return payload


def _x_tweet(rng: random.Random, post: Post, month: Month) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A tweet and its media; `impression_count` only in captures from 2023-07 on."""
    skeleton, stats = post.skeleton, post.stats
    text = full_text(post) or ""
    metrics = {
        "retweet_count": stats.shares,
        "reply_count": stats.comments,
        "like_count": stats.likes,
        "quote_count": stats.quotes,
        "bookmark_count": stats.saves,
    }
    if month >= X_IMPRESSIONS_FROM:
        metrics["impression_count"] = stats.impressions
    tweet: dict[str, Any] = {
        "id": skeleton.post_id,
        "text": text,
        "created_at": skeleton.published.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "edit_history_tweet_ids": [skeleton.post_id],
        "public_metrics": metrics,
    }
    if post.hashtags:
        tweet["entities"] = {"hashtags": _x_hashtags(text, post.hashtags)}
    media: list[dict[str, Any]] = []
    if skeleton.kind != "text":
        key = X_MEDIA_KEY_PREFIX[skeleton.kind] + str(int(skeleton.post_id) + 1 + rng.randrange(1000))
        tweet["attachments"] = {"media_keys": [key]}
        item: dict[str, Any] = {"media_key": key, "type": skeleton.kind}
        if skeleton.kind == "video":
            item["public_metrics"] = {"view_count": stats.views}
        media.append(item)
    return tweet, media


def _x_hashtags(text: str, hashtags: tuple[str, ...]) -> list[dict[str, Any]]:
    """Entity offsets as X gives them: `start` at the `#`, `end` after the tag."""
    entities, position = [], 0
    for tag in hashtags:
        start = text.find(f"#{tag}", position)
        entities.append({"start": start, "end": start + 1 + len(tag), "tag": tag})
        position = start + 1
    return entities
