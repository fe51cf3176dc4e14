"""Aggregate: the weighted means that make dimension scores of indicators and platform scores of
dimensions, and a final score's additive decomposition (the platforms' weights are `weights.py`).

Floating-point sums sort their terms first: rows come back from storage in no fixed order, and
the same month must give the same numbers to the last bit (publication compares digests).
"""

from __future__ import annotations

import math

import polars as pl

from cityindex_pipeline.method.config import Methodology


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
