"""The index, step by step as the OECD/JRC Handbook names them: indicators, treat, normalise,
weight, aggregate, rank. Each step takes a table and returns a table an auditor can read.

Floating-point sums sort their terms first: rows come back from storage in no fixed order, and
the same month must give the same numbers to the last bit (publication compares digests).
"""

from __future__ import annotations

import math

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.method.config import NORMALISATIONS, Methodology
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


def city_indicators(
    metrics: pl.DataFrame, posts: pl.DataFrame, platform: str, methodology: Methodology
) -> pl.DataFrame:
    """One row per city on the platform: its accounts' month aggregated into the raw indicators.

    A city with no account on the platform has no row (absent, not zero). Ratios are computed
    from the city totals, not averaged over accounts.
    """
    metrics = metrics.filter(pl.col("platform") == platform)
    posts = posts.filter(pl.col("platform") == platform)
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


def normalise(long: pl.DataFrame, method: str = "min-max") -> pl.DataFrame:
    """Scale each indicator to 0-100 within platform and indicator, over the cities present.

    min-max: 100 (x - min) / (max - min). z-score: 50 + 15 z, clipped to [0, 100]. rank: 100 (r - 1) /
    (n - 1) with average ranks. distance-to-best: 100 x / max (min-max where values can be negative).
    A constant indicator scores 50; a missing value stays missing. `platform_min`/`platform_max` are
    kept for the auditor whatever the method.
    """
    if method not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {method!r}; expected one of {NORMALISATIONS}")
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
        pl.when(x.is_null()).then(None).when(high == low).then(50.0).otherwise(scaled).alias("normalised")
    )


def weighted_mean(terms: list[tuple[pl.Expr, float]], how: str, shift: float = 1.0) -> pl.Expr:
    """Σ w s (arithmetic), or exp(Σ w ln(s + shift)) − shift (geometric); the weights sum to 1."""
    if how == "arithmetic":
        return sum((score * weight for score, weight in terms), pl.lit(0.0))
    log_mean = sum(((score + shift).log() * weight for score, weight in terms), pl.lit(0.0))
    return log_mean.exp() - shift


def combine(scores: list[float], weights: list[float], how: str, shift: float = 1.0) -> float:
    """The weighted mean of a few numbers, as `weighted_mean` computes it on columns (for audits)."""
    if how == "arithmetic":
        return math.fsum(s * w for s, w in zip(scores, weights, strict=True))
    return math.exp(math.fsum(math.log(s + shift) * w for s, w in zip(scores, weights, strict=True))) - shift


def aggregate_platform(long: pl.DataFrame, methodology: Methodology) -> pl.DataFrame:
    """Dimension score: weighted mean of the indicators a city has (weights re-scaled over those);
    platform score: the dimension scores' weighted mean, arithmetic or geometric as the methodology
    says. A dimension with no indicator is 0."""
    present = pl.col("normalised").is_not_null()
    dimensions = long.group_by("platform", "city_id", "dimension").agg(
        pl.when(pl.col("indicator_weight").filter(present).sum() > 0)
        .then(
            (pl.col("normalised").filter(present) * pl.col("indicator_weight").filter(present)).sort().sum()
            / pl.col("indicator_weight").filter(present).sort().sum()
        )
        .otherwise(0.0)
        .alias("dimension_score")
    )
    wide = dimensions.pivot(on="dimension", index=["platform", "city_id"], values="dimension_score")
    weights = {d.name: d.weight for d in methodology.dimensions}
    for name in weights:
        if name not in wide.columns:
            wide = wide.with_columns(pl.lit(0.0).alias(name))
    aggregation = methodology.aggregation
    return wide.select(
        "platform",
        "city_id",
        pl.col("generate").fill_null(0.0).alias("generate_score"),
        pl.col("interactive").fill_null(0.0).alias("interactive_score"),
        pl.col("utilize").fill_null(0.0).alias("utilize_score"),
        weighted_mean(
            [(pl.col(name).fill_null(0.0), weight) for name, weight in weights.items()],
            aggregation.dimensions,
            aggregation.geometric_shift,
        ).alias("score"),
    )


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
            )
            for platform in platforms
        ]
    ).with_columns(methodology_version=pl.lit(methodology.version))


def rank(scores: pl.DataFrame, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Competition ranking by score, highest first, within each group of `by`.

    Ties: scores equal at full precision share the best of their places and the next place is
    skipped (1, 2, 2, 4); within a tie, rows are listed by city_id. So a tie at the last place of the
    top ten puts every tied city in it.
    """
    ranked = pl.col("score").rank(method="min", descending=True).cast(pl.Int32)
    return scores.with_columns((ranked.over(by) if by else ranked).alias("rank")).sort(*by, "rank", "city_id")


def changes(ranked: pl.DataFrame, previous: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """Score and rank against the previous month (null for a city that was not ranked then);
    `rank_change` > 0 is a rise."""
    return ranked.join(
        previous.select(*on, pl.col("score").alias("previous_score"), pl.col("rank").alias("previous_rank")),
        on=on,
        how="left",
    ).with_columns(
        (pl.col("score") - pl.col("previous_score")).alias("score_change"),
        (pl.col("previous_rank") - pl.col("rank")).cast(pl.Int32).alias("rank_change"),
        pl.col("previous_rank").cast(pl.Int32),
    )


def platform_index(long: pl.DataFrame, methodology: Methodology, previous: pl.DataFrame) -> pl.DataFrame:
    """Platform scores, rank and top ten, with the change in score and rank against the previous month."""
    ranked = rank(aggregate_platform(long, methodology), by=("platform",))
    return (
        changes(
            ranked.with_columns((pl.col("rank") <= methodology.top_n).alias("in_top_ten")),
            previous,
            ["platform", "city_id"],
        )
        .with_columns(methodology_version=pl.lit(methodology.version))
        .sort("platform", "rank", "city_id")
    )


def top_ten(ranked: pl.DataFrame, methodology: Methodology) -> pl.DataFrame:
    """The top ten as it is shown: in rank order with ranks and scores, or, when the methodology's
    `ranks.top_ten_order` is `alphabetical`, the same cities in alphabetical order (English name, then
    city_id) with no rank, score or change shown."""
    top = ranked.filter(pl.col("rank") <= methodology.top_n).sort("rank", "city_id")
    if methodology.top_ten_order == "ranked":
        return top
    names = [c for c in ("city_id", "name_en", "name_zh", "platform") if c in top.columns]
    return top.select(names).sort([c for c in ("name_en", "city_id") if c in names])


def platform_weights(
    reference: pl.DataFrame, methodology: Methodology, platforms: tuple[str, ...] | None = None
) -> pl.DataFrame:
    """Weight per platform: the criteria's weighted mean of each platform's share of the criterion,
    the shares taken over the platforms that enter the comprehensive index (`platforms`: those of the
    month, `coverage.comprehensive_platforms_in`; default every platform of the reference)."""
    criteria = methodology.platform_weight_criteria
    if platforms is not None:
        if not platforms:
            raise ValueError("no platform enters the comprehensive index this month: nothing to weight")
        reference = reference.filter(pl.col("platform").is_in(list(platforms)))
    shares = reference.select(
        "platform",
        (
            pl.col("monthly_active_users_millions") / pl.col("monthly_active_users_millions").sort().sum()
        ).alias("user_scale_share"),
        (pl.col("daily_minutes_per_user") / pl.col("daily_minutes_per_user").sort().sum()).alias(
            "activity_share"
        ),
        (pl.col("relevance") / pl.col("relevance").sort().sum()).alias("relevance_share"),
    )
    return shares.with_columns(
        (
            pl.col("user_scale_share") * criteria["user_scale"]
            + pl.col("activity_share") * criteria["activity"]
            + pl.col("relevance_share") * criteria["relevance"]
        ).alias("weight")
    ).sort(pl.col("platform").replace_strict({p: i for i, p in enumerate(PLATFORMS)}, return_dtype=pl.Int32))


def comprehensive_index(
    cities: pl.DataFrame,
    platform_scores: pl.DataFrame,
    weights: pl.DataFrame,
    qualitative: pl.DataFrame,
    previous: pl.DataFrame,
    methodology: Methodology,
) -> pl.DataFrame:
    """Every city of the roster: quantitative = the platform scores' weighted mean, arithmetic
    (Σ weight x score) or geometric, a platform where the city has no account counting as a score of
    0; final = 80 % quantitative + 20 % qualitative; ranked, with change against the previous month."""
    aggregation = methodology.aggregation
    if aggregation.platforms == "arithmetic":
        combined = (pl.col("score") * pl.col("weight")).sort().sum()
    else:  # c exp(Σ_present w ln(1 + s/c)) − c: an absent platform's ln(0 + c) is counted in c
        c = aggregation.geometric_shift
        combined = (((pl.col("score") / c).log1p() * pl.col("weight")).sort().sum().exp() - 1.0) * c
    quantitative = (
        platform_scores.join(weights.select("platform", "weight"), on="platform")
        .group_by("city_id")
        .agg(combined.alias("quantitative_score"), pl.len().cast(pl.Int32).alias("platforms_present"))
    )
    panel = qualitative.group_by("city_id").agg(pl.col("score").sort().mean().alias("qualitative_score"))
    scored = (
        cities.select("city_id")
        .join(quantitative, on="city_id", how="left")
        .join(panel, on="city_id", how="left")
        .with_columns(
            pl.col("quantitative_score").fill_null(0.0),
            pl.col("platforms_present").fill_null(0),
            pl.col("qualitative_score").fill_null(0.0),
            pl.lit(methodology.quantitative_share).alias("quantitative_share"),
            pl.lit(methodology.qualitative_share).alias("qualitative_share"),
        )
        .with_columns(
            (
                pl.col("quantitative_share") * pl.col("quantitative_score")
                + pl.col("qualitative_share") * pl.col("qualitative_score")
            ).alias("score")
        )
    )
    return (
        changes(rank(scored), previous, ["city_id"])
        .with_columns(
            (pl.col("rank") <= methodology.top_n).alias("in_top_ten"),
            pl.lit(methodology.version).alias("methodology_version"),
        )
        .sort("rank", "city_id")
    )


def decompose(
    city_id: str,
    indicators: pl.DataFrame,
    weights: pl.DataFrame,
    comprehensive: pl.DataFrame,
    methodology: Methodology,
) -> pl.DataFrame:
    """A city's final score as a sum of parts, one per normalised indicator on each weighted platform
    plus the panel's part (arithmetic aggregation only; the parts of a geometric mean do not add):

        part(p, d, i) = quantitative share x weight_p x weight_d x weight_i x normalised_i / Σ weight_i
        part(panel)   = qualitative share x qualitative score

    (Σ weight_i over the indicators of d the city has). Parts sum to the score up to rounding.
    """
    aggregation = methodology.aggregation
    if "geometric" in (aggregation.dimensions, aggregation.platforms):
        raise ValueError("a geometric mean has no additive decomposition; read the trace's levels instead")
    final = comprehensive.filter(city_id=city_id).row(0, named=True)
    dimension_weights = {d.name: d.weight for d in methodology.dimensions}
    rows = indicators.filter(pl.col("city_id") == city_id, pl.col("normalised").is_not_null())
    present_weight = rows.group_by("platform", "dimension").agg(
        pl.col("indicator_weight").sum().alias("_present")
    )
    parts = (
        rows.join(weights.select("platform", pl.col("weight").alias("platform_weight")), on="platform")
        .join(present_weight, on=["platform", "dimension"])
        .with_columns(
            pl.col("dimension").replace_strict(dimension_weights, return_dtype=pl.Float64).alias("_dw")
        )
        .select(
            pl.lit("indicator").alias("part"),
            "platform",
            "dimension",
            "indicator",
            (
                final["quantitative_share"]
                * pl.col("platform_weight")
                * pl.col("_dw")
                * pl.col("indicator_weight")
                * pl.col("normalised")
                / pl.col("_present")
            ).alias("contribution"),
        )
        .sort("platform", "dimension", "indicator")
    )
    panel = pl.DataFrame(
        {
            "part": ["qualitative"],
            "platform": [None],
            "dimension": [None],
            "indicator": [None],
            "contribution": [final["qualitative_share"] * final["qualitative_score"]],
        },
        schema=parts.schema,
    )
    return pl.concat([parts, panel])
