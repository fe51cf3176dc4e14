"""How sure is each rank, and which choice moves it? The Handbook's uncertainty and sensitivity analysis.

The index is recomputed under other choices another analyst could make: platform weights (or the
weights of their criteria) and G/I/U weights drawn from a Dirichlet around their nominal values, a
normalisation, a qualitative share, and, when given, another table of indicators (other interaction
weights). Each city gets its nominal rank, median rank and 5-95 % rank interval.

With `uncertainty.sensitivity` in the methodology (0.5.0 on) the runs follow Saltelli's design and
each factor gets variance-based first-order and total indices of the ranks (`sobol.py`), with
bootstrap intervals. Without it (0.4.0 and before) the runs are Monte Carlo draws and each choice
gets a one-at-a-time share of the rank variance, from batches in which only that choice varies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from cityindex_pipeline.method.config import NORMALISATIONS, Methodology
from cityindex_pipeline.method.factors import Choices, Factor, between, choices_of, dirichlet, one_of, through
from cityindex_pipeline.method.sobol import SensitivitySpec, saltelli_design, sobol_indices
from cityindex_pipeline.method.uncertainty_model import (
    CRITERIA,
    ModelInputs,
    batch_scores,
    competition_ranks,
    model_inputs,
    scores_of,
)

__all__ = ["UncertaintySpec", "competition_ranks", "sensitivity_summary", "simulate_uncertainty", "spec_from"]

CHOICES = ("platform_weights", "dimension_weights", "normalisation", "qualitative_share")
"""The choices of the legacy one-at-a-time analysis (0.4.0 and before)."""


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
    sensitivity: SensitivitySpec | None = None
    """Sobol indices on Saltelli's design (`draws` then unused); None: the legacy Monte Carlo with
    one-at-a-time shares."""


def spec_from(methodology: Methodology) -> UncertaintySpec:
    """The methodology file's `uncertainty` section, over the defaults above."""
    settings = dict(methodology.uncertainty)
    if "qualitative_share_range" in settings:
        settings["qualitative_share_range"] = tuple(settings["qualitative_share_range"])
    if "normalisations" in settings:
        settings["normalisations"] = tuple(settings["normalisations"])
    return UncertaintySpec(**settings, sensitivity=methodology.sensitivity)


def _draw_ranks(
    inputs: ModelInputs, spec: UncertaintySpec, vary: frozenset[str], draws: int, seed: int
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
        all_scores[k] = scores_of(inputs, how, dimension_weights, platform_weights, share)
    return competition_ranks(all_scores)


def sensitivity_factors(inputs: ModelInputs, spec: UncertaintySpec) -> tuple[Factor, ...]:
    """The factors drawn, in the order of their uniforms. Platform weights come through their
    criteria when the weights table gives the criterion shares, otherwise they are drawn directly;
    indicator tables are a factor only when there is more than one."""
    concentration = spec.weight_concentration
    if inputs.criterion_shares is not None:
        platform_weights = Factor(
            "platform_weight_criteria",
            len(CRITERIA),
            "platform_weights",
            through(inputs.criterion_shares, dirichlet(inputs.criterion_weights, concentration)),
        )
    else:
        platform_weights = Factor(
            "platform_weights",
            len(inputs.platforms),
            "platform_weights",
            dirichlet(inputs.platform_weights, concentration),
        )
    drawn_normalisations = np.array([inputs.normalisations.index(how) for how in spec.normalisations])
    factors = [
        platform_weights,
        Factor(
            "dimension_weights", 3, "dimension_weights", dirichlet(inputs.dimension_weights, concentration)
        ),
        Factor("normalisation", 1, "normalisation", one_of(drawn_normalisations)),
        Factor("qualitative_share", 1, "qualitative_share", between(*spec.qualitative_share_range)),
    ]
    if len(inputs.variants) > 1:
        factors.append(
            Factor("interaction_weights", 1, "indicator_variant", one_of(np.arange(len(inputs.variants))))
        )
    return tuple(factors)


def _nominal_choices(inputs: ModelInputs) -> Choices:
    return Choices(
        platform_weights=inputs.platform_weights[None, :],
        dimension_weights=inputs.dimension_weights[None, :],
        normalisation=np.array([inputs.normalisations.index(inputs.normalisation)]),
        qualitative_share=np.array([inputs.qualitative_share]),
        indicator_variant=np.array([0]),
    )


def _intervals(
    inputs: ModelInputs, spec: UncertaintySpec, nominal: np.ndarray, ranks: np.ndarray
) -> pl.DataFrame:
    low, high = np.percentile(ranks, [5, 95], axis=0, method="lower")
    return pl.DataFrame(
        {
            "city_id": inputs.cities,
            "nominal_rank": nominal.astype(np.int32),
            "median_rank": np.median(ranks, axis=0),
            "rank_p05": low.astype(np.int32),
            "rank_p95": high.astype(np.int32),
            "robust": (high - low) <= spec.robust_interval,
            "draws": ranks.shape[0],
            "seed": spec.seed,
        }
    ).sort("nominal_rank", "city_id")


def _one_at_a_time(
    inputs: ModelInputs, spec: UncertaintySpec, nominal: np.ndarray
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The legacy analysis (0.4.0 and before): Monte Carlo intervals, and per choice the mean rank
    variance of a batch in which it alone varies over that of the full draws."""
    ranks = _draw_ranks(inputs, spec, frozenset(CHOICES), spec.draws, spec.seed)
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
    intervals = _intervals(inputs, spec, nominal, ranks)
    return intervals, pl.DataFrame(sensitivity).sort("share_of_total_variance", descending=True)


def _sobol(
    inputs: ModelInputs, spec: UncertaintySpec, sensitivity: SensitivitySpec, nominal: np.ndarray
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sobol indices of the ranks on Saltelli's design; the intervals from its 2N base runs (A and B),
    which are independent draws of every factor."""
    factors = sensitivity_factors(inputs, spec)
    design = saltelli_design(sensitivity.base_samples, tuple(f.uniforms for f in factors), spec.seed)
    choices = choices_of(design.uniforms(), factors, _nominal_choices(inputs))
    ranks = competition_ranks(batch_scores(inputs, choices))
    indices = sobol_indices(ranks, len(factors), sensitivity.bootstrap, sensitivity.confidence, spec.seed + 1)
    table = pl.DataFrame(
        {
            "choice": [f.name for f in factors],
            "first_order": indices.first_order,
            "first_order_low": indices.first_order_low,
            "first_order_high": indices.first_order_high,
            "total_order": indices.total,
            "total_order_low": indices.total_low,
            "total_order_high": indices.total_high,
            "interaction_share": 1.0 - float(indices.first_order.sum()),
            "mean_rank_variance": indices.output_variance / len(inputs.cities),
            "model_runs": design.runs,
            "base_samples": design.base_samples,
            "bootstrap": sensitivity.bootstrap,
            "confidence": sensitivity.confidence,
        }
    ).with_columns(
        pl.lit(None, pl.Float64).alias(column)
        for column in ("mean_rank_variance_alone", "share_of_total_variance", "mean_abs_rank_shift")
    )
    intervals = _intervals(inputs, spec, nominal, ranks[: 2 * design.base_samples])
    return intervals, table.sort("total_order", "choice", descending=[True, False])


def simulate_uncertainty(
    indicators: pl.DataFrame,
    weights: pl.DataFrame,
    qualitative: pl.DataFrame,
    cities: list[str],
    methodology: Methodology,
    spec: UncertaintySpec | None = None,
    indicator_variants: Mapping[str, pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rank intervals per city, and the sensitivity of ranks to each choice.

    `indicators` are the month's idx.platform_indicators rows (treated values); `weights` the
    month's platform weights; `qualitative` the panel's scores. `indicator_variants` are other full
    indicator tables (e.g. under other interaction weights), by name: with any, the Sobol analysis
    draws the table among `indicators` and them, uniformly (the legacy analysis ignores them).
    """
    spec = spec or spec_from(methodology)
    variants = (indicator_variants or {}) if spec.sensitivity is not None else {}
    inputs = model_inputs(
        indicators, weights, qualitative, sorted(cities), methodology, spec.normalisations, variants
    )
    nominal = competition_ranks(
        scores_of(
            inputs,
            inputs.normalisation,
            inputs.dimension_weights,
            inputs.platform_weights,
            inputs.qualitative_share,
        )
    )[0]
    if spec.sensitivity is None:
        return _one_at_a_time(inputs, spec, nominal)
    return _sobol(inputs, spec, spec.sensitivity, nominal)


SOBOL_SUMMARY = (
    "choice",
    "first_order",
    "first_order_low",
    "first_order_high",
    "total_order",
    "total_order_low",
    "total_order_high",
)
LEGACY_SUMMARY = ("choice", "share_of_total_variance", "mean_abs_rank_shift")


def sensitivity_summary(sensitivity: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, float | int]]:
    """What a reader of a run needs of its sensitivity table: the indices with their intervals and the
    model runs (Sobol), or the legacy one-at-a-time shares."""
    if "first_order" not in sensitivity.columns or sensitivity["first_order"].is_null().all():
        return sensitivity.select(LEGACY_SUMMARY), {}
    first = sensitivity.row(0, named=True)
    return sensitivity.select(SOBOL_SUMMARY), {
        "model_runs": int(first["model_runs"]),
        "base_samples": int(first["base_samples"]),
        "bootstrap": int(first["bootstrap"]),
        "confidence": float(first["confidence"]),
        "interaction_share": float(first["interaction_share"]),
    }
