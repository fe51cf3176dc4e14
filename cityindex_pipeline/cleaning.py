"""From raw documents to typed posts and account metrics; every unusable record is quarantined, with why.

Steps, per platform and month: drop nothing silently — documents of unknown accounts and documents
that do not parse go to quarantine whole; records that do not parse go to quarantine alone; a post
seen on two pages is kept once (the later page) and the other copy is quarantined as a duplicate;
posts published outside the month (Beijing time) are quarantined. Absent counts stay null.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.method.config import Methodology
from cityindex_pipeline.parsing import PROFILE_ENDPOINTS
from cityindex_pipeline.parsing.common import INSIGHT_FIELDS, POST_FIELDS
from cityindex_pipeline.parsing.setwise import COUNTS, read_documents, read_profiles
from cityindex_pipeline.warehouse.tables import STAMPED, polars_schema

COUNT_COLUMNS = COUNTS

POST_SCHEMA = polars_schema("clean.posts", without=STAMPED)

QUARANTINE_SCHEMA = polars_schema("clean.quarantine", without=STAMPED)

PROFILE_SCHEMA: dict[str, pl.DataType] = {
    "platform": pl.String(),
    "account_handle": pl.String(),
    "followers": pl.Int64(),
    "profile_sha256": pl.String(),
    "pull_id": pl.String(),
}

METRICS_SCHEMA = polars_schema("clean.account_metrics", without=STAMPED)

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
    The documents are read set-wise (`read_documents`), so the month is a few passes over columns,
    not a Python loop over posts.

    `documents` are rows of raw.documents; `accounts` the registry's accounts of the platform
    (city_id, account_handle, platform_account_id).
    """
    docs = documents.sort("account_handle", "endpoint", "page").with_row_index("doc_index")
    known = accounts.select("account_handle", "city_id", "platform_account_id").unique(
        "account_handle", keep="last", maintain_order=True
    )
    is_known = pl.col("account_handle").is_in(known["account_handle"].implode())
    unknown = docs.filter(~is_known).select(
        "doc_index",
        pl.lit(None, pl.String).alias("record_id"),
        pl.lit("document of an account not in the registry").alias("reason"),
        pl.col("body").str.slice(0, 4000).alias("record"),
    )
    read = read_documents(platform, docs.filter(is_known))
    doc_columns = docs.select(
        "doc_index",
        pl.lit(platform).alias("platform"),
        "account_handle",
        "endpoint",
        "page",
        "sha256",
        "request_url",
        "pull_id",
        "fetched_at",
    )
    posts = read.posts.join(doc_columns, on="doc_index", how="left").sort("doc_index", "record_index")
    duplicates, posts = _deduplicate(posts)
    in_month = pl.col("published_at_utc").is_between(month.start_utc, month.end_utc, closed="left")
    outside = posts.filter(~in_month)
    posts = posts.filter(in_month)
    quarantine = pl.concat(
        [
            _quarantined(
                pl.concat([unknown, read.rejected.cast(unknown.schema)]).sort(
                    "doc_index", maintain_order=True
                ),
                doc_columns,
            ),
            _quarantined(duplicates, doc_columns),
            _quarantined(_post_records(outside, "published outside the month (Beijing time)"), doc_columns),
        ]
    )
    return CleanPlatform(
        posts=_clean_posts(
            posts, read.insights, doc_columns, known, platform, methodology.interactions[platform]
        ),
        quarantine=quarantine.select(QUARANTINE_SCHEMA.keys()).cast(QUARANTINE_SCHEMA),
    )


def _deduplicate(posts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keep one copy per (account, post id): the latest page; each earlier copy is quarantined with the
    page of the copy after it and whether their counts differ. Posts keep the order they first appeared in.
    Only the few repeated posts go through the window expressions."""
    key = ["account_handle", "post_id"]
    posts = posts.with_row_index("_seq")
    repeated = posts.select(pl.struct(key).is_duplicated()).to_series()
    copies = posts.filter(repeated).with_columns(
        pl.col("page").shift(-1).over(key).alias("_kept_page"),
        pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift(-1).over(key)) for c in COUNTS).alias(
            "_differs"
        ),
        pl.col("_seq").min().over(key).alias("_first"),
    )
    earlier = copies.filter(pl.col("_kept_page").is_not_null())
    reasons = earlier.select(
        pl.concat_str(
            pl.lit("duplicate post id across pages; kept page "),
            pl.col("_kept_page").cast(pl.String),
            pl.when(pl.col("_differs")).then(pl.lit(" (counts differed)")).otherwise(pl.lit("")),
        )
    ).to_series()
    latest = copies.filter(pl.col("_kept_page").is_null()).drop("_kept_page", "_differs")
    kept = pl.concat([posts.filter(~repeated).with_columns(pl.col("_seq").alias("_first")), latest])
    return _post_records(earlier, reasons), kept.sort("_first").drop("_seq", "_first")


def _post_records(posts: pl.DataFrame, reason: str | pl.Series) -> pl.DataFrame:
    """Quarantine rows for parsed posts: the post as the parser read it, as JSON."""
    records = [_record_text(row) for row in posts.select(POST_FIELDS).iter_rows(named=True)]
    return pl.DataFrame(
        {
            "doc_index": posts["doc_index"],
            "record_id": posts["post_id"],
            "reason": reason if isinstance(reason, pl.Series) else [reason] * posts.height,
            "record": pl.Series(records, dtype=pl.String),
        },
        schema={"doc_index": pl.UInt32, "record_id": pl.String, "reason": pl.String, "record": pl.String},
    )


def _quarantined(rejected: pl.DataFrame, doc_columns: pl.DataFrame) -> pl.DataFrame:
    return rejected.join(doc_columns, on="doc_index", how="left", maintain_order="left").select(
        "platform",
        "account_handle",
        "endpoint",
        pl.col("request_url").alias("location"),
        pl.col("sha256").alias("source_sha256"),
        "record_id",
        "reason",
        "record",
    )


def _clean_posts(
    posts: pl.DataFrame,
    insights: pl.DataFrame,
    doc_columns: pl.DataFrame,
    accounts: pl.DataFrame,
    platform: str,
    interaction_parts: tuple[str, ...],
) -> pl.DataFrame:
    """Insights over the posts' own counts where present, interactions, account and provenance columns."""
    latest_insights = (
        insights.join(doc_columns.select("doc_index", "account_handle", "sha256"), on="doc_index")
        .sort("doc_index", "record_index")
        .unique(["account_handle", "post_id"], keep="last")
        .select("account_handle", "post_id", *INSIGHT_FIELDS[1:], pl.col("sha256").alias("insights_sha256"))
    )
    insight_names = [f"_insight_{name}" for name in INSIGHT_FIELDS[1:]]
    joined = posts.join(
        latest_insights.rename(dict(zip(INSIGHT_FIELDS[1:], insight_names, strict=True))),
        on=["account_handle", "post_id"],
        how="left",
        maintain_order="left",
    ).with_columns(pl.coalesce(f"_insight_{name}", name).alias(name) for name in INSIGHT_FIELDS[1:])
    parts = [pl.col(name) for name in interaction_parts]
    cleaned = joined.join(accounts, on="account_handle", how="left", maintain_order="left").with_columns(
        pl.lit(platform).alias("platform"),
        (pl.col("published_at_utc") + BEIJING_OFFSET)
        .dt.replace_time_zone(None)
        .alias("published_at_beijing"),
        pl.sum_horizontal(parts).alias("interactions") if parts else pl.lit(0).alias("interactions"),
        pl.all_horizontal(p.is_not_null() for p in parts).alias("interactions_complete")
        if parts
        else pl.lit(True).alias("interactions_complete"),
        pl.col("sha256").alias("source_sha256"),
    )
    return cleaned.select([pl.col(name).cast(dtype) for name, dtype in POST_SCHEMA.items()])


def _record_text(post: dict[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in post.items() if k != "_doc"}, default=str, ensure_ascii=False, sort_keys=True
    )


def profiles_of(documents: pl.DataFrame, platform: str) -> pl.DataFrame:
    """Followers per account from the profile documents (their rejections are clean_posts' to record)."""
    profile_docs = (
        documents.filter(pl.col("endpoint") == PROFILE_ENDPOINTS[platform])
        .sort("account_handle", "page")
        .with_row_index("doc_index")
    )
    rows = read_profiles(platform, profile_docs)
    latest = (
        rows.join(profile_docs.select("doc_index", "account_handle", "sha256", "pull_id"), on="doc_index")
        .sort("doc_index", "record_index")
        .unique("account_handle", keep="last", maintain_order=True)
    )
    return latest.select(
        pl.lit(platform).alias("platform"),
        "account_handle",
        "followers",
        pl.col("sha256").alias("profile_sha256"),
        "pull_id",
    ).cast(PROFILE_SCHEMA)


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
