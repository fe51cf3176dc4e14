"""Rules on the clean layer that need no previous month: followers present for every active account,
interactions that add up from posts to accounts. The counts against the previous month and the
platforms' maxima are `plausibility_rules.py`'s."""

from __future__ import annotations

import polars as pl

from cityindex_pipeline.parsing.common import DocumentError, load_json
from cityindex_pipeline.quality.findings import Finding, finding_from


def hidden_follower_counts(documents: pl.DataFrame) -> pl.DataFrame:
    """(platform, account_handle) of YouTube channels whose document hides the subscriber count."""
    rows = []
    channels = documents.filter((pl.col("platform") == "youtube") & (pl.col("endpoint") == "channel"))
    for doc in channels.iter_rows(named=True):
        try:
            payload = load_json(doc["body"])
        except DocumentError:
            continue
        items = payload.get("items") if isinstance(payload, dict) else None
        channel = items[0] if isinstance(items, list) and items else None
        statistics = channel.get("statistics") if isinstance(channel, dict) else None
        if isinstance(statistics, dict) and statistics.get("hiddenSubscriberCount") is True:
            rows.append({"platform": "youtube", "account_handle": doc["account_handle"]})
    return pl.DataFrame(rows, schema={"platform": pl.String, "account_handle": pl.String}).unique()


def followers_present(
    metrics: pl.DataFrame, active_accounts: pl.DataFrame, hidden: pl.DataFrame, explained: pl.DataFrame
) -> Finding:
    """Every active account has its followers this month. Allowed gaps: the platform hides the count
    (`hidden`: the profile document says so) or the raw layer recorded why the account has no data
    (`explained`: platform, account_handle)."""
    keys = ["platform", "account_handle"]
    no_followers = (
        metrics.filter(pl.col("followers").is_null())
        .select("platform", "city_id", "account_handle")
        .join(hidden.select(keys), on=keys, how="anti")
        .with_columns(problem=pl.lit("followers missing and not hidden by the platform"))
    )
    no_row = (
        active_accounts.select("platform", "city_id", "account_handle")
        .join(metrics.select(keys), on=keys, how="anti")
        .join(explained.select(keys), on=keys, how="anti")
        .with_columns(problem=pl.lit("no metrics for an active account"))
    )
    return finding_from(
        pl.concat([no_followers, no_row]).sort(keys),
        f"{metrics.height} accounts with metrics, {int(metrics['followers'].null_count())} without followers "
        f"({hidden.height} hidden by the platform)",
        fix="the profile document (page/user/channel) of these accounts is missing or unusable: re-pull them",
        extra={"hidden_by_platform": hidden.height},
    )


def interactions_consistent(
    metrics: pl.DataFrame, posts: pl.DataFrame, parts: dict[str, tuple[str, ...]], tolerance: float = 1e-9
) -> Finding:
    """Interactions add up: each post's from its parts (the methodology's, nulls adding nothing), each
    account's from its posts, and interactions per post = interactions / posts (null without posts)."""
    columns = {"platform": pl.String, "account_handle": pl.String, "post_id": pl.String,
               "problem": pl.String, "stored": pl.Float64, "expected": pl.Float64}  # fmt: skip
    failures = []
    for platform, names in parts.items():
        of_platform = posts.filter(platform=platform)
        if of_platform.height == 0:
            continue
        expected = pl.sum_horizontal([pl.col(n).fill_null(0) for n in names])
        bad = of_platform.filter(pl.col("interactions") != expected).select(
            "platform",
            "account_handle",
            "post_id",
            pl.lit("post interactions differ from the sum of their parts").alias("problem"),
            pl.col("interactions").cast(pl.Float64).alias("stored"),
            expected.cast(pl.Float64).alias("expected"),
        )
        failures.append(bad)
    per_account = posts.group_by("platform", "account_handle").agg(
        pl.len().alias("_posts"), pl.col("interactions").sum().alias("_interactions")
    )
    checked = metrics.join(per_account, on=["platform", "account_handle"], how="left").with_columns(
        pl.col("_posts", "_interactions").fill_null(0)
    )
    failures.append(
        checked.filter(pl.col("interactions") != pl.col("_interactions")).select(
            "platform",
            "account_handle",
            pl.lit(None, pl.String).alias("post_id"),
            pl.lit("account interactions differ from the sum over its posts").alias("problem"),
            pl.col("interactions").cast(pl.Float64).alias("stored"),
            pl.col("_interactions").cast(pl.Float64).alias("expected"),
        )
    )
    failures.append(
        checked.filter(pl.col("posts") != pl.col("_posts")).select(
            "platform",
            "account_handle",
            pl.lit(None, pl.String).alias("post_id"),
            pl.lit("account posts differ from its posts in clean.posts").alias("problem"),
            pl.col("posts").cast(pl.Float64).alias("stored"),
            pl.col("_posts").cast(pl.Float64).alias("expected"),
        )
    )
    ratio = pl.when(pl.col("posts") > 0).then(pl.col("interactions") / pl.col("posts"))
    wrong_ratio = (
        (pl.col("interactions_per_post").is_null() != ratio.is_null())
        | ((pl.col("interactions_per_post") - ratio).abs() > tolerance * pl.max_horizontal(ratio.abs(), 1.0))
    ).fill_null(False)
    failures.append(
        checked.filter(wrong_ratio).select(
            "platform",
            "account_handle",
            pl.lit(None, pl.String).alias("post_id"),
            pl.lit("interactions_per_post is not interactions / posts").alias("problem"),
            pl.col("interactions_per_post").alias("stored"),
            ratio.alias("expected"),
        )
    )
    found = pl.concat([f.cast(columns) for f in failures]) if failures else pl.DataFrame(schema=columns)
    return finding_from(
        found.sort("problem", "platform", "account_handle"),
        f"{posts.height} posts and {metrics.height} accounts reconciled",
        fix="the clean layer is inconsistent with itself: re-materialise clean_posts and "
        "clean_account_metrics for the month",
    )
