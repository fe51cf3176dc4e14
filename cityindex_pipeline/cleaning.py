"""From raw documents to typed posts and account metrics; every unusable record is quarantined, with why.

Steps, per platform and month: drop nothing silently — documents of unknown accounts and documents
that do not parse go to quarantine whole; records that do not parse go to quarantine alone; a post
seen on two pages is kept once (the later page) and the other copy is quarantined as a duplicate;
posts published outside the month (Beijing time) are quarantined. Absent counts stay null.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from cityindex_pipeline.method.config import Methodology
from cityindex_pipeline.months import Month
from cityindex_pipeline.parsing import (
    INSIGHT_ENDPOINTS,
    POST_ENDPOINTS,
    PROFILE_ENDPOINTS,
    DocumentError,
    parse_document,
)
from cityindex_pipeline.parsing.common import INSIGHT_FIELDS

COUNT_COLUMNS = (
    "likes",
    "comments",
    "shares",
    "quotes",
    "saves",
    "views",
    "exposures",
    "reach",
    "duration_seconds",
)

POST_SCHEMA: dict[str, pl.DataType] = {
    "platform": pl.String(),
    "city_id": pl.String(),
    "account_handle": pl.String(),
    "platform_account_id": pl.String(),
    "post_id": pl.String(),
    "published_at_utc": pl.Datetime("us", "UTC"),
    "published_at_beijing": pl.Datetime("us"),
    "content_type": pl.String(),
    "text_excerpt": pl.String(),
    "permalink": pl.String(),
    "hashtags": pl.List(pl.String()),
    **{name: pl.Int64() for name in COUNT_COLUMNS},
    "interactions": pl.Int64(),
    "interactions_complete": pl.Boolean(),
    "source_sha256": pl.String(),
    "insights_sha256": pl.String(),
    "pull_id": pl.String(),
    "fetched_at": pl.Datetime("us", "UTC"),
}

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "platform": pl.String(),
    "account_handle": pl.String(),
    "endpoint": pl.String(),
    "location": pl.String(),
    "source_sha256": pl.String(),
    "record_id": pl.String(),
    "reason": pl.String(),
    "record": pl.String(),
}

PROFILE_SCHEMA: dict[str, pl.DataType] = {
    "platform": pl.String(),
    "account_handle": pl.String(),
    "followers": pl.Int64(),
    "profile_sha256": pl.String(),
    "pull_id": pl.String(),
}

METRICS_SCHEMA: dict[str, pl.DataType] = {
    "platform": pl.String(),
    "city_id": pl.String(),
    "account_handle": pl.String(),
    "platform_account_id": pl.String(),
    "followers": pl.Int64(),
    "followers_previous": pl.Int64(),
    "follower_growth": pl.Int64(),
    "posts": pl.Int64(),
    "active_days": pl.Int64(),
    "video_posts": pl.Int64(),
    "interactions": pl.Int64(),
    "interactions_per_post": pl.Float64(),
    "views": pl.Int64(),
    "views_per_video": pl.Float64(),
    "exposures": pl.Int64(),
    "profile_sha256": pl.String(),
    "pull_id": pl.String(),
}

BEIJING_OFFSET = timedelta(hours=8)


@dataclass(frozen=True)
class CleanPlatform:
    """One platform's month after cleaning."""

    posts: pl.DataFrame
    quarantine: pl.DataFrame


def clean_platform(
    documents: pl.DataFrame, accounts: pl.DataFrame, month: Month, platform: str, methodology: Methodology
) -> CleanPlatform:
    """Parse a platform's documents of one pull into posts and quarantined records.

    Profile documents are parsed here only for their rejections; `profiles_of` reads followers.

    `documents` are rows of raw.documents; `accounts` the registry's accounts of the platform
    (city_id, account_handle, platform_account_id).
    """
    known = {row["account_handle"]: row for row in accounts.iter_rows(named=True)}
    quarantine: list[dict[str, Any]] = []
    posts: list[dict[str, Any]] = []
    insights: dict[tuple[str, str], dict[str, Any]] = {}

    def quarantined(doc: dict[str, Any], record_id: str | None, reason: str, record: str) -> None:
        quarantine.append(
            {
                "platform": platform,
                "account_handle": doc["account_handle"],
                "endpoint": doc["endpoint"],
                "location": doc["request_url"],
                "source_sha256": doc["sha256"],
                "record_id": record_id,
                "reason": reason,
                "record": record,
            }
        )

    for doc in documents.sort("account_handle", "endpoint", "page").iter_rows(named=True):
        if doc["account_handle"] not in known:
            quarantined(doc, None, "document of an account not in the registry", doc["body"][:4000])
            continue
        try:
            parsed = parse_document(platform, doc["endpoint"], doc["body"])
        except DocumentError as error:
            quarantined(doc, None, f"unusable document: {error}", doc["body"][:4000])
            continue
        for rejection in parsed.rejected:
            quarantined(doc, rejection.record_id, rejection.reason, rejection.record)
        endpoint = doc["endpoint"]
        if endpoint == POST_ENDPOINTS[platform]:
            for row in parsed.rows:
                posts.append({**row, "_doc": doc})
        elif endpoint == INSIGHT_ENDPOINTS.get(platform):
            for row in parsed.rows:
                insights[(doc["account_handle"], row["post_id"])] = {**row, "insights_sha256": doc["sha256"]}

    kept = _deduplicate(posts, quarantined)
    rows = []
    for post in kept:
        doc = post["_doc"]
        if not month.contains(post["published_at_utc"]):
            quarantined(
                doc, post["post_id"], "published outside the month (Beijing time)", _record_text(post)
            )
            continue
        rows.append(
            _clean_post(
                post, known[doc["account_handle"]], insights, platform, methodology.interactions[platform]
            )
        )
    return CleanPlatform(
        posts=pl.DataFrame(rows, schema=POST_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=POST_SCHEMA),
        quarantine=pl.DataFrame(quarantine, schema=QUARANTINE_SCHEMA),
    )


def _deduplicate(posts: list[dict[str, Any]], quarantined: Any) -> list[dict[str, Any]]:
    """Keep one copy per (account, post id): the latest page; quarantine the others with the reason."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for post in posts:  # documents arrive sorted by page, so a later copy replaces an earlier one
        key = (post["_doc"]["account_handle"], post["post_id"])
        earlier = latest.get(key)
        if earlier is not None:
            differs = any(earlier[c] != post[c] for c in COUNT_COLUMNS)
            reason = (
                f"duplicate post id across pages; kept page {post['_doc']['page']}"
                f"{' (counts differed)' if differs else ''}"
            )
            quarantined(earlier["_doc"], post["post_id"], reason, _record_text(earlier))
        latest[key] = post
    return list(latest.values())


def _clean_post(
    post: dict[str, Any],
    account: dict[str, Any],
    insights: dict[tuple[str, str], dict[str, Any]],
    platform: str,
    interaction_parts: tuple[str, ...],
) -> dict[str, Any]:
    doc = post["_doc"]
    row = {key: value for key, value in post.items() if key != "_doc"}
    insight = insights.get((doc["account_handle"], post["post_id"]))
    if insight is not None:
        for name in INSIGHT_FIELDS[1:]:
            if insight[name] is not None:
                row[name] = insight[name]
    parts = [row[name] for name in interaction_parts]
    published: datetime = row["published_at_utc"]
    return {
        **row,
        "platform": platform,
        "city_id": account["city_id"],
        "account_handle": doc["account_handle"],
        "platform_account_id": account["platform_account_id"],
        "published_at_beijing": (published + BEIJING_OFFSET).replace(tzinfo=None),
        "interactions": sum(part for part in parts if part is not None),
        "interactions_complete": all(part is not None for part in parts),
        "source_sha256": doc["sha256"],
        "insights_sha256": insight["insights_sha256"] if insight else None,
        "pull_id": doc["pull_id"],
        "fetched_at": doc["fetched_at"],
    }


def _record_text(post: dict[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in post.items() if k != "_doc"}, default=str, ensure_ascii=False, sort_keys=True
    )


def profiles_of(documents: pl.DataFrame, platform: str) -> pl.DataFrame:
    """Followers per account from the profile documents (their rejections are clean_posts' to record)."""
    rows = {}
    profile_docs = documents.filter(pl.col("endpoint") == PROFILE_ENDPOINTS[platform]).sort(
        "account_handle", "page"
    )
    for doc in profile_docs.iter_rows(named=True):
        try:
            parsed = parse_document(platform, doc["endpoint"], doc["body"])
        except DocumentError:
            continue
        for row in parsed.rows:
            rows[doc["account_handle"]] = {
                "platform": platform,
                "account_handle": doc["account_handle"],
                "followers": row["followers"],
                "profile_sha256": doc["sha256"],
                "pull_id": doc["pull_id"],
            }
    return pl.DataFrame(list(rows.values()), schema=PROFILE_SCHEMA)


def account_metrics(
    posts: pl.DataFrame,
    profiles: pl.DataFrame,
    accounts: pl.DataFrame,
    previous: pl.DataFrame,
) -> pl.DataFrame:
    """One row per registered account with a pull this month: its month in numbers.

    Accounts with no document at all have no row (unknown is not zero); an account whose profile
    was pulled but that posted nothing has zero posts and null ratios.
    """
    per_post = posts.group_by("platform", "account_handle").agg(
        pl.len().alias("posts"),
        pl.col("published_at_beijing").dt.date().n_unique().alias("active_days"),
        (pl.col("content_type") == "video").sum().alias("video_posts"),
        pl.col("interactions").sum().alias("interactions"),
        pl.col("views").sum().alias("views"),
        pl.col("views").is_not_null().sum().alias("_posts_with_views"),
        pl.col("views").filter(pl.col("content_type") == "video").sum().alias("_video_views"),
        (pl.col("views").is_not_null() & (pl.col("content_type") == "video"))
        .sum()
        .alias("_videos_with_views"),
        pl.col("exposures").sum().alias("exposures"),
        pl.col("exposures").is_not_null().sum().alias("_posts_with_exposures"),
        pl.col("pull_id").first().alias("_post_pull_id"),
    )
    metrics = (
        accounts.select("platform", "city_id", "account_handle", "platform_account_id")
        .join(profiles, on=["platform", "account_handle"], how="left")
        .join(per_post, on=["platform", "account_handle"], how="left")
        .filter(pl.col("profile_sha256").is_not_null() | pl.col("posts").is_not_null())
        .with_columns(
            pl.col("posts", "active_days", "video_posts", "interactions").fill_null(0),
            pl.coalesce("pull_id", "_post_pull_id").alias("pull_id"),
            pl.when(pl.col("_posts_with_views") > 0).then(pl.col("views")).alias("views"),
            pl.when(pl.col("_posts_with_exposures") > 0).then(pl.col("exposures")).alias("exposures"),
            pl.when(pl.col("_videos_with_views") > 0)
            .then(pl.col("_video_views") / pl.col("_videos_with_views"))
            .alias("views_per_video"),
        )
        .with_columns(
            pl.when(pl.col("posts") > 0)
            .then(pl.col("interactions") / pl.col("posts"))
            .alias("interactions_per_post"),
        )
        .join(
            previous.select("platform", "account_handle", pl.col("followers").alias("followers_previous")),
            on=["platform", "account_handle"],
            how="left",
        )
        .with_columns((pl.col("followers") - pl.col("followers_previous")).alias("follower_growth"))
    )
    return metrics.select([pl.col(name).cast(dtype) for name, dtype in METRICS_SCHEMA.items()]).sort(
        "platform", "account_handle"
    )
