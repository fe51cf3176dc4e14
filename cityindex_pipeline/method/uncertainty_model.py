"""The index recomputed under other choices: the month's inputs held as arrays, and the comprehensive
score of every city for one set of choices (`scores_of`) or for a batch of model runs at once
(`batch_scores`), aggregated as the methodology says; the ranks by competition ranking."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from cityindex_pipeline.method.aggregation import aggregate_platform
from cityindex_pipeline.method.config import DIMENSIONS, Methodology
from cityindex_pipeline.method.factors import Choices
from cityindex_pipeline.method.indicators import normalise

CRITERIA = ("user_scale", "activity", "relevance")
"""The platform-weight criteria, in the order of the weights table's share columns."""
CRITERION_SHARES = tuple(f"{criterion}_share" for criterion in CRITERIA)
NOMINAL_VARIANT = "nominal"


@dataclass(frozen=True)
class ModelInputs:
    """The month's inputs of the model, with the nominal value of every choice."""

    cities: list[str]
    platforms: list[str]
    dimension_scores: dict[str, np.ndarray]  # per normalisation: rows x 3 (G, I, U)
    row_city: np.ndarray
    row_platform: np.ndarray
    platform_weights: np.ndarray
    dimension_weights: np.ndarray
    qualitative: np.ndarray
    qualitative_share: float
    normalisation: str
    dimension_aggregation: str
    platform_aggregation: str
    geometric_shift: float
    normalisations: tuple[str, ...]
    """The normalisations computed, the methodology's own first."""
    variant_scores: np.ndarray
    """indicator tables × normalisations × rows × 3: the month's own table first, then the variants."""
    variants: tuple[str, ...]
    criterion_shares: np.ndarray | None
    """platforms × criteria, when the weights table has the shares and they give its weights."""
    criterion_weights: np.ndarray


def _dimension_scores(
    indicators: pl.DataFrame, rows: pl.DataFrame, normalisations: tuple[str, ...], methodology: Methodology
) -> dict[str, np.ndarray]:
    scores = {}
    for how in normalisations:
        dims = aggregate_platform(normalise(indicators, how, methodology.normalisation_constant), methodology)
        aligned = rows.join(dims, on=["platform", "city_id"], how="left")
        scores[how] = aligned.select(f"{d}_score" for d in DIMENSIONS).to_numpy()
    return scores


def _criterion_shares(weights: pl.DataFrame, criteria: np.ndarray) -> np.ndarray | None:
    """The platforms' criterion shares, if the weights table has them and they reproduce its weights
    (otherwise the weights are drawn directly)."""
    if not set(CRITERION_SHARES) <= set(weights.columns):
        return None
    shares = weights.select(CRITERION_SHARES).to_numpy()
    return shares if np.allclose(shares @ criteria, weights["weight"].to_numpy(), atol=1e-9) else None


def model_inputs(
    indicators: pl.DataFrame,
    weights: pl.DataFrame,
    qualitative: pl.DataFrame,
    cities: list[str],
    methodology: Methodology,
    drawn_normalisations: tuple[str, ...],
    indicator_variants: Mapping[str, pl.DataFrame],
) -> ModelInputs:
    """The month's tables as arrays: dimension scores of every city-platform row under the
    methodology's normalisation and each drawn one, for the month's indicators and each variant."""
    weights = weights.sort("platform")
    platforms = weights["platform"].to_list()
    indicators = indicators.filter(pl.col("platform").is_in(platforms))  # monitored-only platforms: no weight
    rows = indicators.select("platform", "city_id").unique().sort("platform", "city_id")
    normalisations = tuple(dict.fromkeys((methodology.normalisation, *drawn_normalisations)))
    scores = _dimension_scores(indicators, rows, normalisations, methodology)
    tables = [scores]
    for name, variant in indicator_variants.items():
        variant = variant.filter(pl.col("platform").is_in(platforms))
        if not variant.select("platform", "city_id").unique().sort("platform", "city_id").equals(rows):
            raise ValueError(f"indicator variant {name!r} does not have the month's city-platform rows")
        tables.append(_dimension_scores(variant, rows, normalisations, methodology))
    city_index = {city: i for i, city in enumerate(cities)}
    platform_index = {platform: i for i, platform in enumerate(platforms)}
    panel = dict(qualitative.group_by("city_id").agg(pl.col("score").sort().mean()).iter_rows())
    criterion_weights = np.array([methodology.platform_weight_criteria[c] for c in CRITERIA])
    return ModelInputs(
        cities=cities,
        platforms=platforms,
        dimension_scores=scores,
        row_city=np.array([city_index[c] for c in rows["city_id"]], dtype=np.int64),
        row_platform=np.array([platform_index[p] for p in rows["platform"]], dtype=np.int64),
        platform_weights=weights["weight"].to_numpy(),
        dimension_weights=np.array([d.weight for d in methodology.dimensions]),
        qualitative=np.array([panel.get(city, 0.0) for city in cities]),
        qualitative_share=methodology.qualitative_share,
        normalisation=methodology.normalisation,
        dimension_aggregation=methodology.aggregation.dimensions,
        platform_aggregation=methodology.aggregation.platforms,
        geometric_shift=methodology.aggregation.geometric_shift,
        normalisations=normalisations,
        variant_scores=np.stack([np.stack([table[how] for how in normalisations]) for table in tables]),
        variants=(NOMINAL_VARIANT, *indicator_variants),
        criterion_shares=_criterion_shares(weights, criterion_weights),
        criterion_weights=criterion_weights,
    )


def _mean(scores: np.ndarray, weights: np.ndarray, how: str, shift: float) -> np.ndarray:
    """Rows of scores combined by weights that sum to 1 (a vector, or one column per run):
    arithmetic, or geometric of (score + shift). NaN (a missing dimension under `missing_dimension:
    reweight`) is left out, the row's other weights re-scaled; a row of NaN (no platform index)
    scores 0, as an absent platform does."""
    missing = np.isnan(scores)
    if not missing.any():
        if how == "arithmetic":
            return scores @ weights
        return np.exp(np.log(scores + shift) @ weights) - shift
    present_weight = (~missing).astype(float) @ weights
    terms = np.nan_to_num(scores if how == "arithmetic" else np.log(scores + shift))
    mean = (terms @ weights) / np.where(present_weight > 0, present_weight, 1.0)
    return np.where(present_weight > 0, mean if how == "arithmetic" else np.exp(mean) - shift, 0.0)


def scores_of(
    inputs: ModelInputs,
    normalisation: str,
    dimension_weights: np.ndarray,
    platform_weights: np.ndarray,
    share: float,
) -> np.ndarray:
    """The comprehensive score of every city for one set of choices (absent platform = 0), aggregated
    as the methodology says."""
    shift = inputs.geometric_shift
    per_row = _mean(
        inputs.dimension_scores[normalisation], dimension_weights, inputs.dimension_aggregation, shift
    )
    matrix = np.zeros((len(inputs.cities), len(inputs.platforms)))
    matrix[inputs.row_city, inputs.row_platform] = per_row
    quantitative = _mean(matrix, platform_weights, inputs.platform_aggregation, shift)
    return (1.0 - share) * quantitative + share * inputs.qualitative


def batch_scores(inputs: ModelInputs, choices: Choices) -> np.ndarray:
    """`_scores` for every run at once (runs × cities): one matrix product per indicator table and
    normalisation drawn, one over the platforms."""
    shift = inputs.geometric_shift
    per_row = np.empty((len(inputs.row_city), choices.runs))
    for variant, how in {
        (int(v), int(n)) for v, n in zip(choices.indicator_variant, choices.normalisation, strict=True)
    }:
        runs = (choices.indicator_variant == variant) & (choices.normalisation == how)
        dimension_scores = inputs.variant_scores[variant, how]
        per_row[:, runs] = _mean(
            dimension_scores, choices.dimension_weights[runs].T, inputs.dimension_aggregation, shift
        )
    matrix = np.zeros((len(inputs.cities), len(inputs.platforms), choices.runs))
    matrix[inputs.row_city, inputs.row_platform] = per_row
    if inputs.platform_aggregation == "arithmetic":
        quantitative = np.einsum("cpr,rp->rc", matrix, choices.platform_weights)
    else:
        quantitative = (
            np.exp(np.einsum("cpr,rp->rc", np.log(matrix + shift), choices.platform_weights)) - shift
        )
    share = choices.qualitative_share[:, None]
    return (1.0 - share) * quantitative + share * inputs.qualitative[None, :]


def competition_ranks(scores: np.ndarray) -> np.ndarray:
    """1 + the number of cities with a strictly higher score (1, 2, 2, 4), per row of draws: sorted
    highest first, a city takes the first place of the run of equal scores it is in."""
    scores = np.atleast_2d(scores)
    order = np.argsort(-scores, axis=1, kind="stable")
    ordered = np.take_along_axis(scores, order, axis=1)
    places = np.arange(scores.shape[1])
    starts = np.where(np.diff(ordered, axis=1, prepend=np.nan) != 0, places, 0)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, 1 + np.maximum.accumulate(starts, axis=1), axis=1)
    return ranks
