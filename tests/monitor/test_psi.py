from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from stagewise.monitor import psi


def test_psi_matches_the_textbook_formula_with_epsilon_for_empty_bins() -> None:
    ref = np.array([40, 30, 30, 0])
    cur = np.array([20, 30, 30, 20])
    r = np.maximum(ref / 100, psi.PSI_EPSILON)
    c = np.maximum(cur / 100, psi.PSI_EPSILON)
    assert float(psi.psi_from_counts(ref, cur)) == pytest.approx(float(np.sum((c - r) * np.log(c / r))))
    assert np.isfinite(psi.psi_from_counts(ref, cur))


def test_quantile_bins_split_the_reference_evenly() -> None:
    ref = np.random.default_rng(0).normal(size=1000)
    counts = psi.bin_counts(ref, psi.quantile_edges(ref, 10))
    assert counts.tolist() == [100] * 10


@given(
    values=hnp.arrays(np.float64, st.integers(1, 200), elements=st.floats(-1e6, 1e6)), bins=st.integers(2, 20)
)
@settings(max_examples=60, deadline=None)
def test_every_value_lands_in_exactly_one_bin(values: np.ndarray, bins: int) -> None:
    counts = psi.bin_counts(values, psi.quantile_edges(values, bins))
    assert counts.sum() == len(values)
    assert len(counts) == bins


def _psi_of_fresh_uniform_samples(n_ref: int, n_cur: int, bins: int, reps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(reps)
    for i in range(reps):
        ref, cur = rng.random(n_ref), rng.random(n_cur)
        edges = psi.quantile_edges(ref, bins)
        out[i] = psi.psi_from_counts(psi.bin_counts(ref, edges), psi.bin_counts(cur, edges))
    return out


@pytest.mark.parametrize(("n_ref", "n_cur"), [(30, 30), (50, 200), (400, 40)])
def test_the_exact_null_has_the_law_of_psi_on_real_samples(n_ref: int, n_cur: int) -> None:
    # The Dirichlet-multinomial shortcut must reproduce what drawing two real samples gives.
    simulated = _psi_of_fresh_uniform_samples(n_ref, n_cur, 10, 1500, seed=n_ref)
    null = psi.null_continuous(n_ref, n_cur, 10, 20_000, np.random.default_rng(1))
    assert stats.ks_2samp(simulated, null).pvalue > 1e-3
    assert np.quantile(null, 0.99) == pytest.approx(np.quantile(simulated, 0.99), rel=0.15)


def test_chi_square_approximation_is_close_once_bins_are_well_filled() -> None:
    null = psi.null_continuous(5000, 5000, 10, 100_000, np.random.default_rng(2))
    threshold = psi.chi_square_threshold(0.01, 5000, 5000, 9)
    assert np.mean(null > threshold) == pytest.approx(0.01, abs=0.002)


def test_permutation_null_keeps_the_pooled_counts() -> None:
    pooled = np.array([5, 0, 7, 3])
    ref, cur = psi.null_permutation(pooled, 6, 500, np.random.default_rng(3))
    assert (ref + cur == pooled).all()
    assert (cur.sum(axis=1) == 6).all()


def test_monte_carlo_p_value_is_never_zero_and_threshold_is_a_null_quantile() -> None:
    null = np.linspace(0.0, 1.0, 1001)
    assert psi.monte_carlo_p_value(5.0, null) == pytest.approx(1 / 1002)
    assert psi.monte_carlo_p_value(0.0, null) == 1.0
    assert psi.monte_carlo_threshold(0.1, null) == pytest.approx(0.9)
