"""The Sobol estimators against SALib's, and on functions whose indices are known."""

from __future__ import annotations

import numpy as np
import pytest
from SALib.analyze import sobol as salib_analyze
from SALib.sample import sobol as salib_sample

from cityindex_pipeline.method.factors import between, dirichlet, one_of
from cityindex_pipeline.method.sobol import saltelli_design, sobol_indices

ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
# Analytic indices of Ishigami (a = 7, b = 0.1)
ISHIGAMI_FIRST = np.array([0.3139, 0.4424, 0.0])
ISHIGAMI_TOTAL = np.array([0.5576, 0.4424, 0.2437])


def ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def salib_runs_in_our_order(outputs: np.ndarray, factors: int) -> np.ndarray:
    """SALib lays each base row's runs out as A, AB_1 … AB_k, B; ours are blocks A, B, AB_1 … AB_k."""
    per_row = outputs.reshape(-1, factors + 2)
    return np.concatenate([per_row[:, 0], per_row[:, -1], *(per_row[:, i] for i in range(1, factors + 1))])


def test_the_indices_are_salibs_on_its_own_sample():
    x = salib_sample.sample(ISHIGAMI, 256, calc_second_order=False, seed=3)
    y = ishigami(x)
    theirs = salib_analyze.analyze(ISHIGAMI, y, calc_second_order=False, num_resamples=10, seed=3)
    ours = sobol_indices(salib_runs_in_our_order(y, 3)[:, None], 3, bootstrap=10, confidence=0.95, seed=3)
    np.testing.assert_allclose(ours.first_order, theirs["S1"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.total, theirs["ST"], rtol=1e-12, atol=1e-12)


def test_our_design_recovers_the_known_indices_of_ishigami():
    design = saltelli_design(4096, (1, 1, 1), seed=11)
    assert design.runs == 4096 * 5
    y = ishigami(-np.pi + 2 * np.pi * design.uniforms())
    indices = sobol_indices(y[:, None], 3, bootstrap=100, confidence=0.95, seed=1)
    np.testing.assert_allclose(indices.first_order, ISHIGAMI_FIRST, atol=0.03)
    np.testing.assert_allclose(indices.total, ISHIGAMI_TOTAL, atol=0.03)
    assert indices.first_order_low[2] <= 0.0 <= indices.first_order_high[2], "x3 alone does nothing"
    assert (indices.first_order_low <= indices.first_order).all()
    assert (indices.first_order <= indices.first_order_high).all()
    assert (indices.total_low <= indices.total).all() and (indices.total <= indices.total_high).all()


def test_a_factor_without_effect_has_indices_of_zero_and_the_rest_add_up():
    design = saltelli_design(256, (2, 1, 1), seed=5)
    u = design.uniforms()
    outputs = np.stack([u[:, 0] + 2 * u[:, 2], 3 * u[:, 1] - u[:, 2]], axis=1)  # column 3 unused
    indices = sobol_indices(outputs, 3, bootstrap=50, confidence=0.9, seed=2)
    assert indices.first_order[2] == pytest.approx(0.0, abs=1e-12)
    assert indices.total[2] == pytest.approx(0.0, abs=1e-12)
    assert indices.first_order_low[2] <= 0.0 <= indices.first_order_high[2]
    assert indices.first_order.sum() == pytest.approx(1.0, abs=0.05), "additive: no interaction"
    np.testing.assert_allclose(indices.first_order, indices.total, atol=0.05)


def test_the_generalised_index_weights_each_output_by_its_variance():
    x = salib_sample.sample(ISHIGAMI, 128, calc_second_order=False, seed=4)
    outputs = np.stack([ishigami(x), 10 * x[:, 0] + x[:, 2]], axis=1)
    per_output = [
        salib_analyze.analyze(ISHIGAMI, outputs[:, c], calc_second_order=False, num_resamples=10, seed=1)
        for c in range(2)
    ]
    ours_order = np.stack([salib_runs_in_our_order(outputs[:, c], 3) for c in range(2)], axis=1)
    n = 128
    variances = ours_order[: 2 * n].var(axis=0)
    expected = sum(v * r["S1"] for v, r in zip(variances, per_output, strict=True)) / variances.sum()
    indices = sobol_indices(ours_order, 3, bootstrap=10, confidence=0.95, seed=1)
    np.testing.assert_allclose(indices.first_order, expected, rtol=1e-12)
    assert indices.output_variance == pytest.approx(variances.sum())


def test_the_bootstrap_is_seeded():
    design = saltelli_design(64, (1, 1), seed=1)
    u = design.uniforms()
    outputs = (u[:, :1] * u[:, 1:]).repeat(3, axis=1)
    first = sobol_indices(outputs, 2, bootstrap=30, confidence=0.95, seed=9)
    again = sobol_indices(outputs, 2, bootstrap=30, confidence=0.95, seed=9)
    np.testing.assert_array_equal(first.first_order_low, again.first_order_low)


def test_the_design_wants_a_power_of_two():
    with pytest.raises(ValueError, match="power of 2"):
        saltelli_design(100, (1,), seed=1)


def test_uniforms_map_onto_the_choices():
    u = saltelli_design(1024, (3,), seed=2).base
    weights = dirichlet(np.array([0.5, 0.3, 0.2]), 40.0)(u)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(weights.mean(axis=0), [0.5, 0.3, 0.2], atol=0.005)
    assert dirichlet(np.array([0.6, 0.0, 0.4]), 40.0)(u)[:, 1].max() == 0.0
    picked = one_of(np.array([3, 1, 2, 0]))(u[:, :1])
    assert np.bincount(picked, minlength=4).min() >= 0.24 * len(u)
    assert one_of(np.array([7, 8]))(np.array([[0.0], [0.4999], [0.5], [1.0]])).tolist() == [7, 7, 8, 8]
    shares = between(0.1, 0.3)(u[:, :1])
    assert shares.min() >= 0.1 and shares.max() <= 0.3
