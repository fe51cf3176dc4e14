"""The Graph API's shared parts, as Facebook and Instagram return them: versions, paging, insights.

Cursor pages come with the Graph API's quirks (an empty page between two, a post seen twice), and the
insights are one multi-id lookup of at most 50 posts a page.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.sources.simulated.documents import (
    IDS_PER_LOOKUP,
    PAGE_SIZE,
    Page,
    chunked,
    random_token,
    request_url,
)
from cityindex_pipeline.sources.simulated.posts import Post, Stats
from cityindex_pipeline.sources.simulated.world import Context

EMPTY_PAGE_RATE = 0.03
DUPLICATE_RATE = 0.02
FB_METRICS_SWITCH = Month(2025, 11)
IG_METRICS_SWITCH = Month(2025, 1)
GRAPH = "https://graph.facebook.com"


def graph_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def graph_version(month: Month) -> str:
    """The Graph API version a pull of the month would have used (v22 retired IG impressions)."""
    if month >= FB_METRICS_SWITCH:
        return "v24.0"
    return "v22.0" if month >= IG_METRICS_SWITCH else "v21.0"


def paged_posts(rng: random.Random, posts: list[Post]) -> list[list[Post]]:
    """Pages of 25, with the Graph API's quirks: an empty page between two, a post seen twice.

    The duplicate is what a cursor shift does: a new post pushes the last of page k onto page k+1;
    the earlier copy was read first, so its counts are a little lower.
    """
    pages = chunked(posts, PAGE_SIZE["posts"])
    if len(posts) >= 2 and rng.random() < EMPTY_PAGE_RATE:
        if len(pages) == 1:
            pages = [posts[: len(posts) // 2], posts[len(posts) // 2 :]]
        return [pages[0], [], *pages[1:]]
    if len(pages) >= 2 and rng.random() < DUPLICATE_RATE:
        k = rng.randrange(len(pages) - 1)
        seen_twice = pages[k][-1]
        later = replace(seen_twice, stats=replace(seen_twice.stats, likes=seen_twice.stats.likes + 2))
        earlier = replace(seen_twice, stats=_lowered(seen_twice.stats))
        rest = [later] + [post for page in pages[k + 1 :] for post in page]
        pages = [*pages[:k], [*pages[k][:-1], earlier], *chunked(rest, PAGE_SIZE["posts"])]
    return pages


def _lowered(stats: Stats) -> Stats:
    return replace(
        stats,
        likes=stats.likes * 9 // 10,
        comments=stats.comments * 9 // 10,
        shares=stats.shares * 9 // 10,
        impressions=stats.impressions * 9 // 10,
        reach=stats.reach * 9 // 10,
    )


def graph_paging(
    rng: random.Random, pages: list[list[dict[str, Any]]], url_of: Callable[[str | None], str]
) -> list[tuple[dict[str, Any], str]]:
    """Payload and URL per page; `next` of page k is exactly the URL of page k+1."""
    cursors = [random_token(rng, 40, string.ascii_letters + string.digits) for _ in pages]
    results = []
    for number, page in enumerate(pages):
        url = url_of(cursors[number - 1] if number else None)
        paging: dict[str, Any] = {}
        if page:
            paging["cursors"] = {"before": "QVFI" + cursors[number][::-1][:36], "after": cursors[number]}
        if number + 1 < len(pages):
            paging["next"] = url_of(cursors[number])
        results.append(({"data": page, "paging": paging}, url))
    return results


def graph_listing(
    rng: random.Random,
    month: Month,
    path: str,
    endpoint: str,
    fields: str,
    posts: list[Post],
    render: Callable[[Post], dict[str, Any]],
) -> tuple[list[Page], list[list[Post]]]:
    """The month's posts listed in cursor pages (`since` and `until` the month), and the pages' posts.

    A month without posts is one page with no data.
    """
    base = {
        "fields": fields,
        "since": str(int(month.start_utc.timestamp())),
        "until": str(int(month.end_utc.timestamp())),
        "limit": str(PAGE_SIZE[endpoint]),
    }

    def url_of(cursor: str | None) -> str:
        return request_url(
            f"{GRAPH}/{graph_version(month)}/{path}", {**base, **({"after": cursor} if cursor else {})}
        )

    if not posts:
        return [Page(endpoint, {"data": []}, url_of(None))], []
    pages = paged_posts(rng, posts)
    rendered = [[render(post) for post in page] for page in pages]
    return [Page(endpoint, payload, url) for payload, url in graph_paging(rng, rendered, url_of)], pages


def graph_insights(context: Context, ids_metrics: list[tuple[str, dict[str, int]]], text: dict) -> list[Page]:
    """The multi-id lookup, at most 50 ids a page, one entry per unique post."""
    version = graph_version(context.month)
    endpoint = "post_insights" if context.account.platform == "facebook" else "media_insights"
    names = list(dict.fromkeys(name for _, metrics in ids_metrics for name in metrics))
    pages = []
    for chunk in chunked(ids_metrics, IDS_PER_LOOKUP):
        payload = {
            post_id: {
                "insights": {
                    "data": [
                        {
                            "name": name,
                            "period": "lifetime",
                            "values": [{"value": value}],
                            "title": text[name][0],
                            "description": text[name][1],
                            "id": f"{post_id}/insights/{name}/lifetime",
                        }
                        for name, value in metrics.items()
                    ]
                },
                "id": post_id,
            }
            for post_id, metrics in chunk
        }
        params = {
            "ids": ",".join(post_id for post_id, _ in chunk),
            "fields": f"insights.metric({','.join(names)})",
        }
        pages.append(Page(endpoint, payload, request_url(f"{GRAPH}/{version}/", params)))
    return pages


def unique_posts(pages: list[list[Post]]) -> list[Post]:
    """Each post once, the copy of the latest page (whose counts the insights match)."""
    latest = {post.skeleton.post_id: post for page in pages for post in page}
    return sorted(latest.values(), key=lambda p: (p.skeleton.published, p.skeleton.post_id), reverse=True)
