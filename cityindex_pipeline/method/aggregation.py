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


def present_weighted_mean(terms: list[tuple[pl.Expr, float]], how: str, shift: float = 1.0) -> pl.Expr:
    """`weighted_mean` over the scores that are not null, the weights re-scaled over those (COINr's
    `a_amean`); null when none is present."""
    present_weight = sum(
        (pl.when(score.is_not_null()).then(pl.lit(weight)).otherwise(0.0) for score, weight in terms),
        pl.lit(0.0),
    )
    if how == "arithmetic":
        total = sum(((score * weight).fill_null(0.0) for score, weight in terms), pl.lit(0.0))
        return pl.when(present_weight > 0).then(total / present_weight)
    log_total = sum((((score + shift).log() * weight).fill_null(0.0) for score, weight in terms), pl.lit(0.0))
    return pl.when(present_weight > 0).then((log_total / present_weight).exp() - shift)


def combine(scores: list[float | None], weights: list[float], how: str, shift: float = 1.0) -> float:
    """The weighted mean of a few numbers, as `weighted_mean` computes it on columns (for audits); a
    None score (a missing dimension) is left out and the other weights re-scaled, as
    `present_weighted_mean` does."""
    if any(score is None for score in scores):
        kept = [(s, w) for s, w in zip(scores, weights, strict=True) if s is not None]
        total = math.fsum(w for _, w in kept)
        scores, weights = [s for s, _ in kept], [w / total for _, w in kept]
    if how == "arithmetic":
        return math.fsum(s * w for s, w in zip(scores, weights, strict=True))
    return math.exp(math.fsum(math.log(s + shift) * w for s, w in zip(scores, weights, strict=True))) - shift


def aggregate_platform(long: pl.DataFrame, methodology: Methodology) -> pl.DataFrame:
    """Dimension score: weighted mean of the indicators a city has (weights re-scaled over those);
    platform score: the dimension scores' weighted mean, arithmetic or geometric as the methodology
    says. A dimension with no indicator is 0 (`missing_dimension: zero`, to 0.4.0) or missing
    (`reweight`, as COINr): the platform score is then the mean over the dimensions present, their
    weights re-scaled, and a city with no dimension at all has no row, as a city without an account."""
    reweight = methodology.aggregation.missing_dimension == "reweight"
    present = pl.col("normalised").is_not_null()
    dimensions = long.group_by("platform", "city_id", "dimension").agg(
        pl.when(pl.col("indicator_weight").filter(present).sum() > 0)
        .then(
            (pl.col("normalised").filter(present) * pl.col("indicator_weight").filter(present)).sort().sum()
            / pl.col("indicator_weight").filter(present).sort().sum()
        )
        .otherwise(None if reweight else 0.0)
        .alias("dimension_score")
    )
    wide = dimensions.pivot(on="dimension", index=["platform", "city_id"], values="dimension_score")
    weights = {d.name: d.weight for d in methodology.dimensions}
    for name in weights:
        if name not in wide.columns:
            wide = wide.with_columns(pl.lit(None if reweight else 0.0, dtype=pl.Float64).alias(name))
    aggregation = methodology.aggregation
    if reweight:
        return wide.select(
            "platform",
            "city_id",
            *[pl.col(name).alias(f"{name}_score") for name in ("generate", "interactive", "utilize")],
            present_weighted_mean(
                [(pl.col(name), weight) for name, weight in weights.items()],
                aggregation.dimensions,
                aggregation.geometric_shift,
            ).alias("score"),
        ).filter(pl.col("score").is_not_null())
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

    (Σ weight_i over the indicators of d the city has; with `missing_dimension: reweight`, weight_d is
    re-scaled over the dimensions the city has on p). Parts sum to the score up to rounding.
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
        .with_columns(pl.col("_dw") / _present_dimension_weight(aggregation.missing_dimension))
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


def _present_dimension_weight(missing_dimension: str) -> pl.Expr:
    """What a dimension weight is divided by in `decompose`: 1 when a missing dimension scores 0, the
    weights of the dimensions present on the platform when it is re-weighted."""
    if missing_dimension == "zero":
        return pl.lit(1.0)
    return pl.col("_dw").filter(pl.col("dimension").is_first_distinct()).sum().over("platform")
