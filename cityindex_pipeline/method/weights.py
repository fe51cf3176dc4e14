"""Platform weights: how much each platform's index counts in the comprehensive index.

Each platform's weight is the criteria's weighted mean of its share of each criterion, the shares
taken over the platforms that enter the comprehensive index that month. Up to 0.4.0 the three
criteria were fixed figures of a reference file (user scale, minutes per user, an invented
relevance). From 0.5.0 (`platform_weight_inputs: monthly`) each moves by month:

- user scale: monthly active users from the reported series, taken at the month
  (`reference/platform_users.py`);
- activity: the mean number of active days (days with a post) of the month's monitored accounts
  on the platform;
- relevance of impact: the platform's share of the audience response the monitored accounts
  received that month, the mean of its share of interactions and its share of views (each
  platform's views measure), so that neither measure's scale swamps the other.

Floating-point sums sort their terms first (publication compares digests to the last bit).
"""

from __future__ import annotations

import polars as pl

from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.method.config import Methodology

PLATFORM_ORDER = {platform: index for index, platform in enumerate(PLATFORMS)}

MEASURED_COLUMNS = {
    "accounts": pl.Int64,
    "mean_active_days": pl.Float64,
    "interactions": pl.Int64,
    "views": pl.Int64,
}
"""What `platform_activity` measures per platform (and `idx.platform_weights` records)."""


def platform_activity(
    metrics: pl.DataFrame, methodology: Methodology, platforms: tuple[str, ...]
) -> pl.DataFrame:
    """Per platform of `platforms`, the month's monitored accounts (rows of clean.account_metrics
    that are active): how many, their mean active days, and the interactions and views they carried
    (views: the platform's `views_measure`, `exposures` or `views`; an account that withheld it adds
    nothing). A platform without an account has 0 accounts, activity and response."""
    rows = []
    for platform in platforms:
        accounts = metrics.filter(pl.col("platform") == platform)
        measure = "exposures" if methodology.views_measure[platform] == "exposures" else "views"
        rows.append(
            {
                "platform": platform,
                "accounts": accounts.height,
                "mean_active_days": float(accounts["active_days"].sort().mean() or 0.0)
                if accounts.height
                else 0.0,
                "interactions": int(accounts["interactions"].sum() or 0),
                "views": int(accounts[measure].sum() or 0),
            }
        )
    return pl.DataFrame(rows, schema={"platform": pl.String, **MEASURED_COLUMNS})


def platform_weights(
    reference: pl.DataFrame,
    methodology: Methodology,
    platforms: tuple[str, ...] | None = None,
    activity: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Weight per platform (see the module). `reference`: the month's idx.platform_reference;
    `platforms`: those entering the comprehensive index this month (default: every platform of the
    reference); `activity`: `platform_activity` of the month, needed from 0.5.0."""
    if platforms is not None:
        if not platforms:
            raise ValueError("no platform enters the comprehensive index this month: nothing to weight")
        reference = reference.filter(pl.col("platform").is_in(list(platforms)))
    if methodology.platform_weight_inputs == "monthly":
        criteria = _monthly_criteria(reference, activity)
    else:
        criteria = reference.select(
            "platform",
            pl.col("monthly_active_users_millions").alias("user_scale"),
            pl.col("daily_minutes_per_user").alias("activity"),
            pl.col("relevance"),
        )
    weights = methodology.platform_weight_criteria
    return (
        criteria.with_columns(
            (pl.col(name) / pl.col(name).sort().sum()).alias(f"{name}_share")
            for name in ("user_scale", "activity", "relevance")
        )
        .with_columns(
            (
                pl.col("user_scale_share") * weights["user_scale"]
                + pl.col("activity_share") * weights["activity"]
                + pl.col("relevance_share") * weights["relevance"]
            ).alias("weight")
        )
        .drop("user_scale", "activity", "relevance")
        .sort(pl.col("platform").replace_strict(PLATFORM_ORDER, return_dtype=pl.Int32))
    )


def _monthly_criteria(reference: pl.DataFrame, activity: pl.DataFrame | None) -> pl.DataFrame:
    """The three criteria measured for the month, with the inputs kept beside them."""
    if activity is None:
        raise ValueError("monthly platform weights need the month's platform activity")
    if (
        "monthly_active_users_month" not in reference.columns
        or reference["monthly_active_users_month"].is_null().any()
    ):
        raise ValueError("monthly platform weights need the month's user scale in the platform reference")
    joined = reference.select("platform", "monthly_active_users_month", "users_basis").join(
        activity, on="platform", how="left"
    )
    for name in ("interactions", "views", "mean_active_days"):
        if not joined[name].fill_null(0).sum() > 0:
            raise ValueError(
                f"no monitored account of the month has any {name.replace('_', ' ')} on the weighted "
                "platforms: the platform weights cannot be measured"
            )
    interactions_share = pl.col("interactions") / pl.col("interactions").sort().sum()
    views_share = pl.col("views") / pl.col("views").sort().sum()
    return joined.select(
        "platform",
        pl.col("monthly_active_users_month").alias("user_scale"),
        pl.col("mean_active_days").alias("activity"),
        ((interactions_share + views_share) / 2).alias("relevance"),
        pl.col("monthly_active_users_month").alias("user_scale_millions"),
        "users_basis",
        *MEASURED_COLUMNS,
    )
