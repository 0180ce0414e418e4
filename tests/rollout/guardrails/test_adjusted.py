"""The CUPED estimate is the least-squares ANCOVA coefficient, with its exact variance."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise.rollout.guardrails import adjusted, family, harm_test, judge, spec, units
from stagewise.rollout.guardrails.adjusted import adjusted_difference, cumulative_moments


def _ols(y: np.ndarray, arm: np.ndarray, x: np.ndarray | None) -> tuple[float, float]:
    cols = [np.ones_like(y), arm] + ([] if x is None else [x])
    design = np.column_stack(cols)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    s2 = resid @ resid / (y.size - design.shape[1])
    cov = s2 * np.linalg.inv(design.T @ design)
    return float(coef[1]), float(cov[1, 1])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_a=st.integers(5, 60), n_b=st.integers(5, 60), adjust=st.booleans())
def test_estimate_and_variance_equal_the_least_squares_fit(
    seed: int, n_a: int, n_b: int, adjust: bool
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n_a + n_b)
    y = 0.7 * x + rng.normal(size=n_a + n_b) + np.r_[np.zeros(n_a), np.full(n_b, 0.3)]
    arm = np.r_[np.zeros(n_a), np.ones(n_b)]
    a = cumulative_moments(y[:n_a], x[:n_a], np.zeros(n_a, int), 1)
    b = cumulative_moments(y[n_a:], x[n_a:], np.zeros(n_b, int), 1)
    got = adjusted_difference(a, b, adjust=adjust)
    coef, var = _ols(y, arm, x if adjust else None)
    assert got.estimate[0] == pytest.approx(coef, rel=1e-9, abs=1e-12)
    assert got.variance[0] == pytest.approx(var, rel=1e-9)


def test_an_informative_covariate_shrinks_the_variance_by_about_one_minus_rho_squared() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=20_000)
    y = 0.6 * x + 0.8 * rng.normal(size=20_000)  # ρ = 0.6, 1 − ρ² = 0.64
    look = np.repeat(np.arange(10), 1000)
    a = cumulative_moments(y[:10_000], x[:10_000], look, 10)
    b = cumulative_moments(y[10_000:], x[10_000:], look, 10)
    ratio = adjusted_difference(a, b).variance_ratio
    assert ratio.shape == (10,)
    assert ratio[-1] == pytest.approx(0.64, abs=0.02)


def test_no_evidence_before_both_arms_have_units() -> None:
    a = cumulative_moments([1.0, 0.0, 1.0], [0.1, 0.2, 0.3], [0, 0, 1], 2)
    b = cumulative_moments([1.0, 1.0], [0.5, 0.4], [1, 1], 2)
    est = adjusted_difference(a, b)
    assert np.isnan(est.variance[0])  # the challenger has no units on the first look
    assert np.isfinite(est.variance[1])


def test_the_docstring_examples_run() -> None:
    for module in (adjusted, family, harm_test, judge, spec, units):
        failed, _ = doctest.testmod(module, raise_on_error=False)
        assert failed == 0, module.__name__
