"""Facebook's documents: the page, its published posts in cursor pages, and their insights."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.simulated.documents import Page, request_url
from cityindex_pipeline.sources.simulated.graph import (
    FB_METRICS_SWITCH,
    GRAPH,
    graph_insights,
    graph_listing,
    graph_time,
    graph_version,
    unique_posts,
)
from cityindex_pipeline.sources.simulated.posts import NO_TEXT_RATE, Post, full_text, posts_of, skeletons_of
from cityindex_pipeline.sources.simulated.world import Context, paging_rng

NO_SHARES_RATE = 0.06
FB_POST_FIELDS = (
    "id,created_time,message,permalink_url,status_type,shares,"
    "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
)
FB_METRIC_TEXT = {
    "post_impressions": ("Post Impressions", "Lifetime: The number of times your Page's post was on screen."),
    "post_impressions_unique": ("Post Reach", "Lifetime: The number of people who saw your Page's post."),
    "post_media_view": ("Media views", "Lifetime: The number of times your post was on screen or played."),
}


def facebook_responses(context: Context) -> list[Page]:
    account, month = context.account, context.month
    version = graph_version(month)
    page_id = account.platform_account_id
    rng = paging_rng(context)
    profile_url = request_url(
        f"{GRAPH}/{version}/{page_id}", {"fields": "id,name,username,link,fan_count,followers_count"}
    )
    page_payload = {
        "id": page_id,
        "name": account.display_name,
        "username": account.account_handle,
        "link": f"https://www.facebook.com/{account.account_handle}",
        "fan_count": round(context.followers * 0.92),
        "followers_count": context.followers,
    }
    documents = [Page("page", page_payload, profile_url)]
    posts = [
        _facebook_post(rng, account, post)
        for post in posts_of(context, skeletons_of(context.seed, account, month))
    ]
    listing, pages = graph_listing(
        rng, month, f"{page_id}/published_posts", "posts", FB_POST_FIELDS, posts, _facebook_item
    )
    exposure = "post_media_view" if month >= FB_METRICS_SWITCH else "post_impressions"
    metrics = [
        (
            post.skeleton.post_id,
            {exposure: post.stats.impressions, "post_impressions_unique": post.stats.reach},
        )
        for post in unique_posts(pages)
    ]
    return documents + listing + graph_insights(context, metrics, FB_METRIC_TEXT)


def _facebook_post(rng: random.Random, account: Account, post: Post) -> Post:
    """Some posts have no text, some were never shared (then `shares` is absent)."""
    if rng.random() < NO_TEXT_RATE:
        post = replace(post, text=None)
    if rng.random() < NO_SHARES_RATE:
        post = replace(post, stats=replace(post.stats, shares=0))
    return post


def _facebook_item(post: Post) -> dict[str, Any]:
    skeleton, stats = post.skeleton, post.stats
    item: dict[str, Any] = {"id": skeleton.post_id, "created_time": graph_time(skeleton.published)}
    message = full_text(post)
    if message is not None:
        item["message"] = message
    page_id, number = skeleton.post_id.split("_", 1)
    item["permalink_url"] = f"https://www.facebook.com/{page_id}/posts/{number}"
    item["status_type"] = skeleton.kind
    if stats.shares:
        item["shares"] = {"count": stats.shares}
    item["reactions"] = {"data": [], "summary": {"total_count": stats.likes, "viewer_reaction": "NONE"}}
    item["comments"] = {
        "data": [],
        "summary": {"order": "ranked", "total_count": stats.comments, "can_comment": True},
    }
    return item
