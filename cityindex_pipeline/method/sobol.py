"""Variance-based sensitivity (Sobol indices) of a vector output, on Saltelli's sampling design.

Generic: nothing here knows the index. A model maps k *groups* of uniforms (a group is one factor,
drawn from one or more uniforms) to a vector of outputs (the ranks of every city). Two independent
base samples A and B of N rows each, and for every factor i the sample AB_i (A with the columns of
factor i taken from B), give N × (k + 2) model runs. Per output c, with V_c the variance of the
outputs over the 2N runs of A and B:

    first order  S_i,c  = mean(f(B) (f(AB_i) − f(A))) / V_c          (Saltelli et al. 2010)
    total        ST_i,c = mean((f(A) − f(AB_i))²) / (2 V_c)           (Jansen 1999)

and over the outputs the *generalised* indices weight each by its variance (Gamboa et al. 2014):
S_i = Σ_c V_c S_i,c / Σ_c V_c, the share of the summed variance. These are the estimators of
SALib's `sobol.analyze` (outputs centred on their mean first, as there); intervals come from
resampling the N base rows, as there.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

SENSITIVITY_METHODS = ("sobol",)


@dataclass(frozen=True)
class SensitivitySpec:
    """The `uncertainty.sensitivity` section: Sobol indices on `base_samples` (N, a power of 2) base
    rows, with `bootstrap` resamples for intervals at `confidence`."""

    method: str = "sobol"
    base_samples: int = 512
    bootstrap: int = 200
    confidence: float = 0.95


@dataclass(frozen=True)
class SaltelliDesign:
    """The uniforms of every model run: A (N rows), B (N rows), then AB_i for each factor in order."""

    base: np.ndarray
    """A then B: 2N × d uniforms."""
    group_columns: tuple[slice, ...]
    """The columns of each factor."""

    @property
    def base_samples(self) -> int:
        return self.base.shape[0] // 2

    @property
    def runs(self) -> int:
        """N × (k + 2)."""
        return self.base_samples * (len(self.group_columns) + 2)

    def uniforms(self) -> np.ndarray:
        """Every run's uniforms, runs × d: A, B, AB_1 … AB_k."""
        n = self.base_samples
        a, b = self.base[:n], self.base[n:]
        blocks = [a, b]
        for columns in self.group_columns:
            mixed = a.copy()
            mixed[:, columns] = b[:, columns]
            blocks.append(mixed)
        return np.vstack(blocks)


def saltelli_design(base_samples: int, group_sizes: tuple[int, ...], seed: int) -> SaltelliDesign:
    """A and B from one scrambled Sobol sequence of 2d dimensions (A its first d, B its last d), as
    Saltelli's scheme takes them; seeded, so reproducible."""
    if base_samples < 2 or base_samples & (base_samples - 1):
        raise ValueError(f"base_samples must be a power of 2, got {base_samples}")
    width = sum(group_sizes)
    from scipy.stats import qmc  # here, not at import: scipy.stats takes seconds to load in every process

    points = qmc.Sobol(d=2 * width, scramble=True, seed=seed).random_base2(int(np.log2(base_samples)))
    points = np.clip(points, 1e-12, 1 - 1e-12)  # keep inverse CDFs finite
    bounds = np.cumsum((0, *group_sizes))
    return SaltelliDesign(
        base=np.vstack([points[:, :width], points[:, width:]]),
        group_columns=tuple(slice(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds)),
    )


@dataclass(frozen=True)
class SobolIndices:
    """Per factor: the generalised first-order and total indices, their bootstrap intervals."""

    first_order: np.ndarray
    first_order_low: np.ndarray
    first_order_high: np.ndarray
    total: np.ndarray
    total_low: np.ndarray
    total_high: np.ndarray
    output_variance: float
    """Σ_c V_c: the summed variance the indices are shares of."""


def _indices(
    f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First-order and total indices (resamples × k) and Σ_c V_c (resamples), for base rows taken with
    the multiplicities `counts` (resamples × N). Sums over outputs come first, so each resample costs
    a few matrix products, not a copy of the runs."""
    n = f_a.shape[0]
    mean_square = counts @ ((f_a**2).sum(axis=1) + (f_b**2).sum(axis=1)) / (2 * n)
    mean = (counts @ f_a + counts @ f_b) / (2 * n)
    variance = mean_square - (mean**2).sum(axis=1)
    first = np.stack([counts @ (f_b * (ab - f_a)).sum(axis=1) / n for ab in f_ab], axis=1)
    total = np.stack([counts @ ((f_a - ab) ** 2).sum(axis=1) / (2 * n) for ab in f_ab], axis=1)
    safe = np.where(variance > 0, variance, 1.0)[:, None]
    return (
        np.where(variance[:, None] > 0, first / safe, 0.0),
        np.where(variance[:, None] > 0, total / safe, 0.0),
        variance,
    )


def sobol_indices(
    outputs: np.ndarray, factors: int, bootstrap: int, confidence: float, seed: int
) -> SobolIndices:
    """The indices from the outputs of a design's runs (runs × outputs, in `uniforms()` order), with
    percentile intervals over `bootstrap` resamples of the N base rows (seeded). Each output is first
    centred on its mean over all runs, as SALib centres its output. An output that never varies adds
    nothing; if none varies every index is 0."""
    n = outputs.shape[0] // (factors + 2)
    centred = outputs - outputs.mean(axis=0)  # the first-order estimator is not shift-invariant
    f = centred.reshape(factors + 2, n, -1).astype(float)
    f_a, f_b, f_ab = f[0], f[1], f[2:]
    first, total, variance = _indices(f_a, f_b, f_ab, np.ones((1, n)))
    rows = np.random.default_rng(seed).integers(n, size=(bootstrap, n))
    counts = np.zeros((bootstrap, n))
    np.add.at(counts, (np.repeat(np.arange(bootstrap), n), rows.ravel()), 1.0)
    first_resampled, total_resampled, _ = _indices(f_a, f_b, f_ab, counts)
    tail = 100 * (1 - confidence) / 2
    first_low, first_high = np.percentile(first_resampled, [tail, 100 - tail], axis=0)
    total_low, total_high = np.percentile(total_resampled, [tail, 100 - tail], axis=0)
    return SobolIndices(
        first_order=first[0],
        first_order_low=first_low,
        first_order_high=first_high,
        total=total[0],
        total_low=total_low,
        total_high=total_high,
        output_variance=float(variance[0]),
    )
