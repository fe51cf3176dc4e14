"""How sure is each rank? A Monte Carlo over the method's choices (the Handbook's uncertainty analysis).

Each draw perturbs the platform weights and the G/I/U weights (Dirichlet around their nominal
values), picks a normalisation, and draws the qualitative share; the index is recomputed and the
cities re-ranked. Each city gets its nominal rank, median rank and 5-95 % rank interval. A first-order
sensitivity figure per choice comes from batches in which only that choice varies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from cityindex_pipeline.method.aggregation import aggregate_platform
from cityindex_pipeline.method.config import DIMENSIONS, NORMALISATIONS, Methodology
from cityindex_pipeline.method.indicators import normalise

CHOICES = ("platform_weights", "dimension_weights", "normalisation", "qualitative_share")


@dataclass(frozen=True)
class UncertaintySpec:
    draws: int = 1000
    seed: int = 20240901
    weight_concentration: float = 40.0
    """Dirichlet concentration around nominal weights: larger is tighter (40 gives about ±15 % relative)."""
    qualitative_share_range: tuple[float, float] = (0.1, 0.3)
    normalisations: tuple[str, ...] = NORMALISATIONS
    robust_interval: int = 10
    """A rank whose 5-95 % interval spans more places than this is flagged as not robust."""


def spec_from(methodology: Methodology) -> UncertaintySpec:
    """The methodology file's `uncertainty` section, over the defaults above."""
    settings = dict(methodology.uncertainty)
    if "qualitative_share_range" in settings:
        settings["qualitative_share_range"] = tuple(settings["qualitative_share_range"])
    if "normalisations" in settings:
        settings["normalisations"] = tuple(settings["normalisations"])
    return UncertaintySpec(**settings)


@dataclass(frozen=True)
class _Inputs:
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


def _inputs(
    indicators: pl.DataFrame,
    weights: pl.DataFrame,
    qualitative: pl.DataFrame,
    cities: list[str],
    methodology: Methodology,
    spec: UncertaintySpec,
) -> _Inputs:
    platforms = weights.sort("platform")["platform"].to_list()
    indicators = indicators.filter(pl.col("platform").is_in(platforms))  # monitored-only platforms: no weight
    rows = indicators.select("platform", "city_id").unique().sort("platform", "city_id")
    scores = {}
    for how in dict.fromkeys((methodology.normalisation, *spec.normalisations)):
        dims = aggregate_platform(normalise(indicators, how, methodology.normalisation_constant), methodology)
        aligned = rows.join(dims, on=["platform", "city_id"], how="left")
        scores[how] = aligned.select(f"{d}_score" for d in DIMENSIONS).to_numpy()
    city_index = {city: i for i, city in enumerate(cities)}
    platform_index = {platform: i for i, platform in enumerate(platforms)}
    panel = dict(qualitative.group_by("city_id").agg(pl.col("score").sort().mean()).iter_rows())
    return _Inputs(
        cities=cities,
        platforms=platforms,
        dimension_scores=scores,
        row_city=np.array([city_index[c] for c in rows["city_id"]], dtype=np.int64),
        row_platform=np.array([platform_index[p] for p in rows["platform"]], dtype=np.int64),
        platform_weights=weights.sort("platform")["weight"].to_numpy(),
        dimension_weights=np.array([d.weight for d in methodology.dimensions]),
        qualitative=np.array([panel.get(city, 0.0) for city in cities]),
        qualitative_share=methodology.qualitative_share,
        normalisation=methodology.normalisation,
        dimension_aggregation=methodology.aggregation.dimensions,
        platform_aggregation=methodology.aggregation.platforms,
        geometric_shift=methodology.aggregation.geometric_shift,
    )


def _mean(scores: np.ndarray, weights: np.ndarray, how: str, shift: float) -> np.ndarray:
    """Rows of scores combined by weights that sum to 1: arithmetic, or geometric of (score + shift).
    NaN (a missing dimension under `missing_dimension: reweight`) is left out, the row's other weights
    re-scaled; a row of NaN (no platform index) scores 0, as an absent platform does."""
    if np.isnan(scores).any():
        weight = np.where(np.isnan(scores), 0.0, weights)
        total = weight.sum(axis=1)
        terms = np.nan_to_num(scores if how == "arithmetic" else np.log(scores + shift))
        mean = (terms * weight).sum(axis=1) / np.where(total > 0, total, 1.0)
        return np.where(total > 0, mean if how == "arithmetic" else np.exp(mean) - shift, 0.0)
    if how == "arithmetic":
        return scores @ weights
    return np.exp(np.log(scores + shift) @ weights) - shift


def _scores(
    inputs: _Inputs,
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


def competition_ranks(scores: np.ndarray) -> np.ndarray:
    """1 + the number of cities with a strictly higher score (1, 2, 2, 4), per row of draws."""
    scores = np.atleast_2d(scores)
    return 1 + (scores[:, None, :] > scores[:, :, None]).sum(axis=2)


def _draw_ranks(
    inputs: _Inputs, spec: UncertaintySpec, vary: frozenset[str], draws: int, seed: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    all_scores = np.empty((draws, len(inputs.cities)))
    for k in range(draws):
        platform_weights = (
            rng.dirichlet(spec.weight_concentration * inputs.platform_weights)
            if "platform_weights" in vary
            else inputs.platform_weights
        )
        dimension_weights = (
            rng.dirichlet(spec.weight_concentration * inputs.dimension_weights)
            if "dimension_weights" in vary
            else inputs.dimension_weights
        )
        how = (
            spec.normalisations[rng.integers(len(spec.normalisations))]
            if "normalisation" in vary
            else inputs.normalisation
        )
        share = (
            rng.uniform(*spec.qualitative_share_range)
            if "qualitative_share" in vary
            else inputs.qualitative_share
        )
        all_scores[k] = _scores(inputs, how, dimension_weights, platform_weights, share)
    return competition_ranks(all_scores)


def simulate_uncertainty(
    indicators: pl.DataFrame,
    weights: pl.DataFrame,
    qualitative: pl.DataFrame,
    cities: list[str],
    methodology: Methodology,
    spec: UncertaintySpec | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rank intervals per city, and the first-order sensitivity of ranks to each choice.

    `indicators` are the month's idx.platform_indicators rows (treated values); `weights` the
    month's platform weights; `qualitative` the panel's scores.
    """
    spec = spec or spec_from(methodology)
    inputs = _inputs(indicators, weights, qualitative, sorted(cities), methodology, spec)
    nominal = competition_ranks(
        _scores(
            inputs,
            inputs.normalisation,
            inputs.dimension_weights,
            inputs.platform_weights,
            inputs.qualitative_share,
        )
    )[0]
    ranks = _draw_ranks(inputs, spec, frozenset(CHOICES), spec.draws, spec.seed)
    low, high = np.percentile(ranks, [5, 95], axis=0, method="lower")
    intervals = pl.DataFrame(
        {
            "city_id": inputs.cities,
            "nominal_rank": nominal.astype(np.int32),
            "median_rank": np.median(ranks, axis=0),
            "rank_p05": low.astype(np.int32),
            "rank_p95": high.astype(np.int32),
            "robust": (high - low) <= spec.robust_interval,
            "draws": spec.draws,
            "seed": spec.seed,
        }
    ).sort("nominal_rank", "city_id")
    total_variance = float(ranks.var(axis=0).mean())
    sensitivity = []
    for offset, choice in enumerate(CHOICES, start=1):
        alone = _draw_ranks(inputs, spec, frozenset({choice}), max(spec.draws // 4, 50), spec.seed + offset)
        variance = float(alone.var(axis=0).mean())
        sensitivity.append(
            {
                "choice": choice,
                "mean_rank_variance_alone": variance,
                "share_of_total_variance": variance / total_variance if total_variance > 0 else 0.0,
                "mean_abs_rank_shift": float(np.abs(alone - nominal).mean()),
            }
        )
    return intervals, pl.DataFrame(sensitivity).sort("share_of_total_variance", descending=True)
