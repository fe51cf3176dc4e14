"""The factors of the sensitivity analysis: one record per choice the method could make otherwise.

A factor reads its own columns of uniforms and turns them into the value of one model input for
every run. The registry is built per month by `uncertainty.sensitivity_factors`; a new factor is one
more `Factor` there, with the input it sets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

ChoiceMap = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Choices:
    """One value of every model input per run (runs along the first axis)."""

    platform_weights: np.ndarray
    """runs × platforms, each row summing to 1."""
    dimension_weights: np.ndarray
    """runs × 3 (G, I, U)."""
    normalisation: np.ndarray
    """runs: position in the model's normalisations."""
    qualitative_share: np.ndarray
    """runs."""
    indicator_variant: np.ndarray
    """runs: position in the model's indicator tables (0: the month's own)."""

    @property
    def runs(self) -> int:
        return len(self.qualitative_share)

    def repeated(self, runs: int) -> Choices:
        """A one-run set of choices, the same for `runs` runs."""
        return Choices(
            **{f.name: np.repeat(getattr(self, f.name), runs, axis=0) for f in dataclasses.fields(self)}
        )


CHOICE_INPUTS = tuple(f.name for f in dataclasses.fields(Choices))


@dataclass(frozen=True)
class Factor:
    """A group of `uniforms` uniforms that `to_choice` maps (runs × uniforms → values) onto `sets`,
    one field of `Choices`."""

    name: str
    uniforms: int
    sets: str
    to_choice: ChoiceMap

    def __post_init__(self) -> None:
        if self.sets not in CHOICE_INPUTS:
            raise ValueError(f"factor {self.name} sets {self.sets!r}, not one of {CHOICE_INPUTS}")


def dirichlet(nominal: np.ndarray, concentration: float) -> ChoiceMap:
    """Weights ~ Dirichlet(concentration × nominal) from one uniform per weight: each a gamma variate by
    its inverse CDF (shape concentration × nominal weight, scale 1), the row then divided by its sum. A
    weight of 0 stays 0."""
    shapes = concentration * np.asarray(nominal, dtype=float)

    def to_weights(uniforms: np.ndarray) -> np.ndarray:
        from scipy.stats import gamma  # here, not at import: see sobol.saltelli_design

        variates = np.where(shapes > 0, gamma.ppf(uniforms, np.where(shapes > 0, shapes, 1.0)), 0.0)
        return variates / variates.sum(axis=1, keepdims=True)

    return to_weights


def one_of(options: np.ndarray) -> ChoiceMap:
    """One of k options, each with probability 1/k: option floor(u × k)."""
    options = np.asarray(options)

    def pick(uniforms: np.ndarray) -> np.ndarray:
        return options[np.minimum((uniforms[:, 0] * len(options)).astype(np.int64), len(options) - 1)]

    return pick


def between(low: float, high: float) -> ChoiceMap:
    """Uniform on [low, high]: low + u × (high − low)."""

    def scale(uniforms: np.ndarray) -> np.ndarray:
        return low + uniforms[:, 0] * (high - low)

    return scale


def through(criterion_shares: np.ndarray, criterion_weights: ChoiceMap) -> ChoiceMap:
    """Platform weights as each platform's criterion shares (platforms × criteria) weighted by drawn
    criterion weights: shares @ weights, as `aggregation.platform_weights` computes them."""

    def weigh(uniforms: np.ndarray) -> np.ndarray:
        return criterion_weights(uniforms) @ np.asarray(criterion_shares).T

    return weigh


def choices_of(uniforms: np.ndarray, factors: tuple[Factor, ...], nominal: Choices) -> Choices:
    """Every run's choices: the factors' draws from their columns of `uniforms` (in factor order), the
    nominal value for any input no factor sets."""
    values, start = {}, 0
    for factor in factors:
        values[factor.sets] = factor.to_choice(uniforms[:, start : start + factor.uniforms])
        start += factor.uniforms
    return dataclasses.replace(nominal.repeated(len(uniforms)), **values)
