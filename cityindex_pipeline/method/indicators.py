"""The indicators of each platform, as the OECD/JRC Handbook's first steps name them: screen (who is
covered this month), the raw indicators from the accounts' month, treat (outliers) and normalise
(0-100 within platform and month). `platform_indicators` runs them in order: the table an auditor
reads, one row per (platform, city, indicator)."""

from __future__ import annotations

import dataclasses

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.method.config import CONSTANT_INDICATORS, NORMALISATIONS, Methodology
from cityindex_pipeline.method.treatment import apply_plans, treatment_plans

INDICATOR_COLUMNS = (
    "posts", "active_days", "video_share", "interactions", "interactions_per_post",
    "interactions_per_thousand_followers", "followers", "follower_growth_rate", "views",
)  # fmt: skip


TREATMENT_RECORD = {
    "skewness": pl.Float64,
    "kurtosis": pl.Float64,
    "winsorised_points": pl.Int32,
    "treated_skewness": pl.Float64,
    "treated_kurtosis": pl.Float64,
}
"""What `treat` records beside each treated value (null where a legacy method decided nothing)."""


def cover(
    cities: pl.DataFrame, accounts: pl.DataFrame, month: Month, methodology: Methodology
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The month's roster and accounts under the methodology's coverage: cities that have entered
    (and not left) the index; an account is active once it has started, if its city is in the roster
    and its platform is computed this month."""
    coverage = methodology.coverage
    in_roster = [c for c in cities["city_id"].to_list() if coverage.city_in(c, month)]
    active = (
        (pl.col("started_on") < month.next().first_day)
        & pl.col("city_id").is_in(in_roster)
        & pl.col("platform").is_in(list(coverage.platforms_in(month)))
    )
    return cities.filter(pl.col("city_id").is_in(in_roster)), accounts.with_columns(active.alias("active"))


def city_indicators(
    metrics: pl.DataFrame, posts: pl.DataFrame, platform: str, methodology: Methodology
) -> pl.DataFrame:
    """One row per city on the platform: its accounts' month aggregated into the raw indicators.

    A city with no account on the platform has no row (absent, not zero). Ratios are computed
    from the city totals, not averaged over accounts.
    """
    metrics = metrics.filter(pl.col("platform") == platform)
    posts = posts.filter(pl.col("platform") == platform)
    if methodology.interaction_weights is not None:
        metrics = _with_weighted_interactions(metrics, posts, methodology.interaction_weights[platform])
    measure = methodology.views_measure[platform]
    active_days = posts.group_by("city_id").agg(
        pl.col("published_at_beijing").dt.date().n_unique().cast(pl.Int64).alias("active_days")
    )
    # Only accounts that report the measure at all count towards `views`; null if none does.
    audience = posts.group_by("city_id").agg(
        pl.when(pl.col(measure).is_not_null().any()).then(pl.col(measure).sum()).alias("views")
    )
    both = pl.col("followers").is_not_null() & pl.col("followers_previous").is_not_null()
    totals = metrics.group_by("city_id").agg(
        pl.len().alias("accounts"),
        pl.col("posts").sum(),
        pl.col("video_posts").sum(),
        pl.col("interactions").sum(),
        pl.when(pl.col("followers").is_not_null().any()).then(pl.col("followers").sum()).alias("followers"),
        pl.col("follower_growth").filter(both).sum().alias("_growth"),
        pl.col("followers_previous").filter(both).sum().alias("_base"),
        pl.col("interactions")
        .filter(pl.col("followers").is_not_null())
        .sum()
        .alias("_interactions_for_rate"),
        pl.col("followers").filter(pl.col("followers").is_not_null()).sum().alias("_followers_for_rate"),
    )
    return (
        totals.join(active_days, on="city_id", how="left")
        .join(audience, on="city_id", how="left")
        .with_columns(
            pl.col("active_days").fill_null(0),
            _silent_views(methodology),
            pl.when(pl.col("posts") > 0).then(pl.col("video_posts") / pl.col("posts")).alias("video_share"),
            pl.when(pl.col("posts") > 0)
            .then(pl.col("interactions") / pl.col("posts"))
            .alias("interactions_per_post"),
            pl.when(pl.col("_followers_for_rate") > 0)
            .then(pl.col("_interactions_for_rate") / pl.col("_followers_for_rate") * 1000)
            .alias("interactions_per_thousand_followers"),
            pl.when(pl.col("_base") > 0)
            .then(pl.col("_growth") / pl.col("_base"))
            .alias("follower_growth_rate"),
        )
        .select(
            pl.lit(platform).alias("platform"),
            "city_id",
            pl.col("accounts").cast(pl.Int32),
            *[pl.col(name).cast(pl.Float64) for name in INDICATOR_COLUMNS],
        )
        .sort("city_id")
    )


def _with_weighted_interactions(
    metrics: pl.DataFrame, posts: pl.DataFrame, weights: dict[str, float]
) -> pl.DataFrame:
    """Each account's interactions as the weighted sum of its posts' parts (a withheld part adds
    nothing, as in the count); an account without a post has 0. Terms are sorted before summing,
    so that the same month gives the same number to the last bit."""
    weighted = sum((pl.col(part).fill_null(0) * weight for part, weight in weights.items()), pl.lit(0.0))
    per_account = posts.group_by("account_handle").agg(weighted.sort().sum().alias("_weighted"))
    return (
        metrics.join(per_account, on="account_handle", how="left")
        .with_columns(pl.col("_weighted").fill_null(0.0).alias("interactions"))
        .drop("_weighted")
    )


def _silent_views(methodology: Methodology) -> pl.Expr:
    """The audience measure of a city whose accounts published nothing this month: 0 from 0.5.0
    (its audience saw nothing new), missing before (re-weighted over the other Utilize indicators).
    A city with posts none of which report the measure keeps it missing: the platform withheld it."""
    views = pl.col("views")
    if methodology.silent_accounts == "zero":
        return pl.when(pl.col("posts") == 0).then(pl.lit(0)).otherwise(views).alias("views")
    return views


def to_long(indicators: pl.DataFrame, methodology: Methodology) -> pl.DataFrame:
    """One row per (city, indicator) with its dimension and weight: the shape the auditor reads."""
    weights = methodology.indicator_weights()
    long = indicators.unpivot(
        index=["platform", "city_id", "accounts"],
        on=list(weights),
        variable_name="indicator",
        value_name="raw_value",
    )
    lookup = pl.DataFrame(
        {
            "indicator": list(weights),
            "dimension": [dimension for dimension, _ in weights.values()],
            "indicator_weight": [weight for _, weight in weights.values()],
        }
    )
    return long.join(lookup, on="indicator", how="left")


def treat(long: pl.DataFrame, methodology: Methodology, plans: pl.DataFrame | None = None) -> pl.DataFrame:
    """Tame outliers, per indicator within platform and month (see `treatment`).

    With a `treatment` section (0.3.0 on): skewness and kurtosis decide, per indicator, between no
    treatment, winsorisation and a log transform; each row records the decision (`transform`), the
    statistics and whether its own value was winsorised. `plans` applies decisions already taken
    (one row per platform and indicator) instead of deciding them from these values. Without a
    treatment section (0.1.0, 0.2.0): log1p of the indicators listed in `log_transform`, always.
    """
    if methodology.treatment is None:
        logged = pl.col("indicator").is_in(sorted(methodology.log_transform))
        return long.with_columns(
            pl.when(logged).then(pl.lit("log1p")).otherwise(pl.lit("none")).alias("transform"),
            pl.when(logged)
            .then(pl.col("raw_value").clip(lower_bound=0).log1p())
            .otherwise(pl.col("raw_value"))
            .alias("treated_value"),
            *[pl.lit(None, dtype).alias(name) for name, dtype in TREATMENT_RECORD.items()],
            pl.lit(False).alias("winsorised"),
        )
    if plans is None:
        plans = treatment_plans(long, methodology.treatment)
    return apply_plans(long, plans)


def treatment_summary(long: pl.DataFrame) -> pl.DataFrame:
    """One row per (platform, indicator) that was treated: what was done and why."""
    return (
        long.filter(pl.col("transform") != "none")
        .group_by("platform", "indicator")
        .agg(
            pl.col("transform").first(),
            *[pl.col(name).first() for name in TREATMENT_RECORD],
            pl.col("winsorised").sum().cast(pl.Int32).alias("cities_winsorised"),
        )
        .sort("platform", "indicator")
    )


def normalise(long: pl.DataFrame, method: str = "min-max", constant: str = "fifty") -> pl.DataFrame:
    """Scale each indicator to 0-100 within platform and indicator, over the cities present.

    min-max: 100 (x - min) / (max - min). z-score: 50 + 15 z, clipped to [0, 100]. rank: 100 (r - 1) /
    (n - 1) with average ranks. distance-to-best: 100 x / max (min-max where values can be negative).
    A constant indicator (max = min) scores 50 (`constant="fifty"`, to 0.4.0) or, carrying no
    information, is missing for every city (`"drop"`, as COINr); a missing value stays missing.
    `platform_min`/`platform_max` are kept for the auditor whatever the method.
    """
    if method not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {method!r}; expected one of {NORMALISATIONS}")
    if constant not in CONSTANT_INDICATORS:
        raise ValueError(
            f"unknown rule for a constant indicator {constant!r}; expected one of {CONSTANT_INDICATORS}"
        )
    by = ("platform", "indicator")
    x = pl.col("treated_value")
    low, high = pl.col("platform_min"), pl.col("platform_max")
    min_max = (x - low) / (high - low) * 100.0
    spread = x.std().over(by)
    scaled = {
        "min-max": min_max,
        "z-score": pl.when(spread > 0).then(
            (50.0 + 15.0 * (x - x.mean().over(by)) / spread).clip(0.0, 100.0)
        ),
        "rank": (x.rank("average").over(by) - 1) / (x.count().over(by) - 1) * 100.0,
        "distance-to-best": pl.when(low >= 0).then(x / high * 100.0).otherwise(min_max),
    }[method]
    return long.with_columns(platform_min=x.min().over(by), platform_max=x.max().over(by)).with_columns(
        pl.when(x.is_null())
        .then(None)
        .when(high == low)
        .then(None if constant == "drop" else 50.0)
        .otherwise(scaled)
        .alias("normalised")
    )


def platform_indicators(
    metrics: pl.DataFrame,
    posts: pl.DataFrame,
    methodology: Methodology,
    platforms: tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """Every computed platform's indicators, one row per (platform, city, indicator): raw, treated,
    normalised. `platforms`: those of the month (`coverage.platforms_in`); default all it names."""
    platforms = (
        tuple(p for p in PLATFORMS if p in methodology.coverage.platforms) if platforms is None else platforms
    )
    return pl.concat(
        [
            normalise(
                treat(
                    to_long(city_indicators(metrics, posts, platform, methodology), methodology), methodology
                ),
                methodology.normalisation,
                methodology.normalisation_constant,
            )
            for platform in platforms
        ]
    ).with_columns(methodology_version=pl.lit(methodology.version))


def interaction_weight_variants(
    metrics: pl.DataFrame, posts: pl.DataFrame, methodology: Methodology, platforms: tuple[str, ...]
) -> dict[str, pl.DataFrame]:
    """The month's indicators under the other rule for interactions, for the uncertainty analysis
    to draw between: every part counted once (`unweighted`) when the methodology weighs them; none
    when it does not (there is no other rule to draw)."""
    if methodology.interaction_weights is None:
        return {}
    unweighted = dataclasses.replace(methodology, interaction_weights=None)
    return {"unweighted": platform_indicators(metrics, posts, unweighted, platforms)}


def interaction_parts(
    posts: pl.DataFrame, platform: str, methodology: Methodology
) -> tuple[tuple[str, float, int], ...]:
    """How the `interactions` indicator of these posts (one city, one platform) is made: each part
    with its weight (1 before 0.5.0) and its sum over the posts (a withheld count adds nothing)."""
    parts = methodology.interactions[platform]
    weights = (methodology.interaction_weights or {}).get(platform, dict.fromkeys(parts, 1.0))
    return tuple((part, weights[part], int(posts[part].fill_null(0).sum())) for part in parts)
