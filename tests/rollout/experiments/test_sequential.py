from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from stagewise._exceptions import ConfigError
from stagewise.rollout.experiments.sequential import (
    always_valid_p_values,
    msprt_log_lr,
    sequential_from_estimates,
    sequential_paired_hits,
    sequential_two_means,
    sequential_two_proportions,
)


def test_two_sided_statistic_matches_the_closed_form_by_hand() -> None:
    v, tau, est = 1e-4, 0.05, -0.03
    expected = 0.5 * math.log(v / (v + tau**2)) + tau**2 * est**2 / (2 * v * (v + tau**2))
    assert math.isclose(float(msprt_log_lr(est, v, tau=tau)), expected)


def test_statistic_equals_the_numerical_mixture_integral() -> None:
    # Λ = ∫ N(est; θ, v) / N(est; 0, v) dN(θ; 0, τ²) by quadrature; one-sided: half-normal prior
    v, tau, est = 4e-4, 0.05, -0.04

    def mixture(low: float, high: float, weight: float) -> float:
        theta = np.linspace(low, high, 200_001)
        lr = np.exp((2 * theta * est - theta**2) / (2 * v))
        return float(np.trapezoid(weight * lr * norm.pdf(theta, scale=tau), theta))

    cases = {
        "two-sided": mixture(-0.5, 0.5, 1.0),
        "less": mixture(-0.5, 0, 2.0),
        "greater": mixture(0, 0.5, 2.0),
    }
    for alternative, expected in cases.items():
        got = float(np.exp(msprt_log_lr(est, v, tau=tau, alternative=alternative)))  # type: ignore[arg-type]
        assert math.isclose(got, expected, rel_tol=1e-6), alternative


def test_no_data_means_no_evidence() -> None:
    assert msprt_log_lr(np.nan, np.nan).item() == 0.0
    assert msprt_log_lr(0.1, 0.0).item() == 0.0


def test_p_values_are_a_running_minimum() -> None:
    p = always_valid_p_values([0.0, math.log(10), math.log(2), math.log(40)])
    np.testing.assert_allclose(p, [1.0, 0.1, 0.1, 0.025])


def test_clear_harm_is_rejected_and_equal_rates_are_not() -> None:
    days = np.arange(1, 31)
    harm = sequential_two_proportions(
        control_hits=25 * days,
        control_n=100 * days,
        treatment_hits=15 * days,
        treatment_n=100 * days,
        alternative="less",
    )
    assert harm.rejected
    assert harm.first_rejection is not None
    assert harm.first_rejection < 29
    assert harm.as_dict()["rejected"] is True
    same = sequential_two_proportions(25 * days, 100 * days, 25 * days, 100 * days, alternative="less")
    assert not same.rejected
    assert same.p_value == 1.0
    # a challenger that is better is not "harm"
    better = sequential_two_proportions(25 * days, 100 * days, 35 * days, 100 * days, alternative="less")
    assert not better.rejected
    assert sequential_two_proportions(25 * days, 100 * days, 35 * days, 100 * days).rejected


def test_paired_hits_equals_the_generic_form() -> None:
    b, c, n = np.array([5, 11, 18]), np.array([2, 4, 5]), np.array([100, 200, 300])
    paired = sequential_paired_hits(b, c, n, alternative="less")
    generic = sequential_from_estimates((c - b) / n, (b + c) / n**2, alternative="less")
    assert paired.p_values == generic.p_values


def test_two_means_detects_a_score_accuracy_drop() -> None:
    rng = np.random.default_rng(3)
    control = rng.normal(0.70, 0.12, size=(30, 70))
    challenger = rng.normal(0.66, 0.12, size=(30, 70))
    cum = [
        np.cumsum(x, axis=0)
        for x in (control.sum(1), (control**2).sum(1), challenger.sum(1), (challenger**2).sum(1))
    ]
    n = 70 * np.arange(1, 31)
    r = sequential_two_means(cum[0], cum[1], n, cum[2], cum[3], n, alternative="less")
    assert r.rejected
    assert math.isclose(r.estimates[-1], challenger.mean() - control.mean())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tau": 0.0}, "'tau' must be a number > 0. Got 0.0"),
        ({"alpha": 1.5}, "'alpha' must be in"),
        ({"alternative": "worse"}, "'alternative' must be one of"),
    ],
    ids=["tau", "alpha", "alternative"],
)
def test_bad_parameters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sequential_two_proportions([1], [10], [1], [10], **kwargs)  # type: ignore[arg-type]


def test_counts_must_be_cumulative_and_consistent() -> None:
    with pytest.raises(ConfigError, match="cumulative"):
        sequential_two_proportions([5, 4], [10, 20], [1, 2], [10, 20])
    with pytest.raises(ConfigError, match="cannot exceed"):
        sequential_two_proportions([11], [10], [1], [10])
    with pytest.raises(ConfigError, match="one entry per look"):
        sequential_two_proportions([1, 2], [10, 20], [1], [10])
