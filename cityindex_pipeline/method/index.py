"""The index tables: each platform's index and the comprehensive index, aggregated, ranked, their
top ten, and the change in score and rank against the previous month.

Floating-point sums sort their terms first: rows come back from storage in no fixed order, and
the same month must give the same numbers to the last bit (publication compares digests).
"""

from __future__ import annotations

import polars as pl

from cityindex_pipeline.method.aggregation import aggregate_platform
from cityindex_pipeline.method.config import Methodology


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
