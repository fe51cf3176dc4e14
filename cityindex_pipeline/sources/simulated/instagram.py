"""Instagram's documents: the user, its media in cursor pages, and their insights."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.sources.simulated.documents import Page, digest_token, request_url
from cityindex_pipeline.sources.simulated.graph import (
    GRAPH,
    IG_METRICS_SWITCH,
    graph_insights,
    graph_listing,
    graph_time,
    graph_version,
    unique_posts,
)
from cityindex_pipeline.sources.simulated.posts import NO_TEXT_RATE, Post, full_text, posts_of, skeletons_of
from cityindex_pipeline.sources.simulated.world import Context, age_months, paging_rng

IG_MEDIA_FIELDS = "id,caption,media_type,media_product_type,permalink,timestamp,like_count,comments_count"
IG_METRIC_TEXT = {
    "impressions": ("Impressions", "Total number of times the media object has been seen"),
    "reach": ("Accounts reached", "The number of unique accounts that have seen the media object"),
    "saved": ("Saved", "Total number of unique accounts that have saved the media object"),
    "plays": ("Plays", "Total number of times the reel or video has started to play"),
    "views": ("Views", "Total number of times the media object has been played or displayed"),
}


def instagram_responses(context: Context) -> list[Page]:
    account, month = context.account, context.month
    version = graph_version(month)
    user_id = account.platform_account_id
    rng = paging_rng(context)
    fields = "id,username,name,followers_count,follows_count,media_count"
    user = {
        "id": user_id,
        "username": account.account_handle,
        "name": account.display_name,
        "followers_count": context.followers,
        "follows_count": context.profile.following,
        "media_count": round(context.profile.activity * (age_months(account, month) + 1) * 0.85),
    }
    documents = [Page("user", user, request_url(f"{GRAPH}/{version}/{user_id}", {"fields": fields}))]
    posts = posts_of(context, skeletons_of(context.seed, account, month))
    posts = [replace(post, text=None) if rng.random() < NO_TEXT_RATE else post for post in posts]
    listing, pages = graph_listing(
        rng,
        month,
        f"{user_id}/media",
        "media",
        IG_MEDIA_FIELDS,
        posts,
        lambda post: _instagram_item(post, context.profile.hidden),
    )
    metrics = [(post.skeleton.post_id, _instagram_metrics(post, month)) for post in unique_posts(pages)]
    return documents + listing + graph_insights(context, metrics, IG_METRIC_TEXT)


def _instagram_item(post: Post, likes_hidden: bool) -> dict[str, Any]:
    """`like_count` is absent on accounts that hide likes; `caption` is absent without text."""
    skeleton = post.skeleton
    media_type = "VIDEO" if skeleton.kind == "REELS" else skeleton.kind
    shortcode = digest_token("shortcode", skeleton.post_id)[:11]
    item: dict[str, Any] = {"id": skeleton.post_id}
    caption = full_text(post)
    if caption is not None:
        item["caption"] = caption
    item["media_type"] = media_type
    item["media_product_type"] = "REELS" if skeleton.kind == "REELS" else "FEED"
    item["permalink"] = (
        f"https://www.instagram.com/{'reel' if skeleton.kind == 'REELS' else 'p'}/{shortcode}/"
    )
    item["timestamp"] = graph_time(skeleton.published)
    if not likes_hidden:
        item["like_count"] = post.stats.likes
    item["comments_count"] = post.stats.comments
    return item


def _instagram_metrics(post: Post, month: Month) -> dict[str, int]:
    """`impressions`/`plays` before 2025-01, `views` from then on."""
    stats, video = post.stats, post.skeleton.kind in ("REELS", "VIDEO")
    if month >= IG_METRICS_SWITCH:
        return {"views": max(stats.impressions, stats.views), "reach": stats.reach, "saved": stats.saves}
    metrics = {"impressions": stats.impressions, "reach": stats.reach, "saved": stats.saves}
    return {**metrics, "plays": stats.views} if video else metrics
