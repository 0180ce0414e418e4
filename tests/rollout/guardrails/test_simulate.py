"""The guardrail judge's error rates and CUPED's power, by simulation (a fast run and a slow full one).

Each rate is checked by its 95 % Wilson interval: the family-wise false-rollback rate's *upper*
bound must be at most α. CUPED's gain is checked by the months in which only one of the two tests
fired on the same races (McNemar's discordant pairs, an exact binomial test).
"""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from stagewise._exceptions import ConfigError
from stagewise.rollout.guardrails.simulate import (
    CupedResult,
    simulate_cuped,
    simulate_family,
    simulate_variants,
)

ALPHA = 0.05


def _gain_p(r: CupedResult) -> float:
    """One-sided exact p-value that CUPED fires more often than the unadjusted test on the same months."""
    n = r.only_cuped + r.only_unadjusted
    return 1.0 if n == 0 else float(binomtest(r.only_cuped, n, 0.5, alternative="greater").pvalue)


def _family_checks(n_sims: int, seed: int) -> None:
    for correlated in (True, False):
        for share in (0.1, 0.5):
            r = simulate_family(n_sims=n_sims, treatment_share=share, correlated=correlated, seed=seed)
            assert r.family.interval()[1] <= ALPHA, (correlated, share, r.family)
            # the family fires whenever any metric reaches α/3, and only then (A/A: Holm's first step)
            assert r.family.fired <= sum(m.fired for m in r.per_metric.values())
            assert r.family.fired >= max(m.fired for m in r.per_metric.values())
    with_cuped = simulate_family(n_sims=n_sims, treatment_share=0.1, cuped=True, seed=seed)
    assert with_cuped.family.interval()[1] <= ALPHA


def _cuped_checks(n_sims: int, seed: int, min_gain_points: float) -> None:
    power = simulate_cuped(n_sims=n_sims, seed=seed)
    assert power.variance_ratio < 0.95
    assert power.cuped.rate - power.unadjusted.rate >= min_gain_points
    assert _gain_p(power) < 0.001
    aa = simulate_cuped(n_sims=n_sims, seed=seed + 1, p_challenger=0.25)
    assert aa.cuped.interval()[1] <= ALPHA
    assert aa.unadjusted.interval()[1] <= ALPHA
    # negative control: a covariate of pure noise explains nothing, gains nothing, costs nothing
    noise = simulate_cuped(n_sims=n_sims, seed=seed, covariate="noise")
    assert noise.variance_ratio == pytest.approx(1.0, abs=0.01)
    assert _gain_p(noise) > 0.01
    noise_aa = simulate_cuped(n_sims=n_sims, seed=seed + 1, p_challenger=0.25, covariate="noise")
    assert noise_aa.cuped.interval()[1] <= ALPHA
    extra = noise_aa.only_cuped - noise_aa.only_unadjusted
    assert extra <= 3 + 0.002 * n_sims  # no extra false rollbacks beyond a handful of months


def test_family_wise_false_rollbacks_stay_below_alpha_fast() -> None:
    _family_checks(n_sims=400, seed=1)


def test_cuped_gains_power_keeps_alpha_and_a_noise_covariate_changes_nothing_fast() -> None:
    _cuped_checks(n_sims=1200, seed=2, min_gain_points=0.01)


def test_abn_family_wise_false_rollbacks_need_holm_fast() -> None:
    """3 variants equal to control, 3 guardrails each: Holm over all 9 keeps α, no correction does not."""
    r = simulate_variants(n_sims=400, n_variants=3, treatment_share=0.5, seed=0)
    assert r.family_size == 9
    assert r.holm.interval()[1] <= ALPHA, r.holm
    assert r.uncorrected.interval()[0] > ALPHA, r.uncorrected
    assert r.holm.fired <= r.uncorrected.fired


@pytest.mark.slow
def test_abn_family_wise_false_rollbacks_stay_below_alpha_full() -> None:
    for correlated in (True, False):
        r = simulate_variants(n_sims=2000, n_variants=3, treatment_share=0.5, correlated=correlated, seed=5)
        assert r.holm.interval()[1] <= ALPHA, (correlated, r.holm)
        assert r.uncorrected.interval()[0] > ALPHA, (correlated, r.uncorrected)


@pytest.mark.slow
def test_family_wise_false_rollbacks_stay_below_alpha_full() -> None:
    _family_checks(n_sims=4000, seed=11)


@pytest.mark.slow
def test_cuped_gains_power_keeps_alpha_and_a_noise_covariate_changes_nothing_full() -> None:
    _cuped_checks(n_sims=10_000, seed=12, min_gain_points=0.02)


def test_the_today_controller_test_and_the_unadjusted_guardrail_agree() -> None:
    # the pooled two-proportion test (today's controller) and the unadjusted guardrail differ only in
    # how the variance is pooled; on the same months they fire almost together
    r = simulate_cuped(n_sims=1000, seed=3)
    assert abs(r.two_proportions.fired - r.unadjusted.fired) <= 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_sims": 0}, "'n_sims' parameter must be an int >= 1. Got 0"),
        ({"treatment_share": 1.0}, "'treatment_share' parameter must be in \\(0, 1\\)"),
        ({"q_sd": 0.5}, "'q_sd' parameter must be in \\(0, sqrt\\(p\\(1-p\\)\\) = 0.433\\). Got 0.5"),
        ({"covariate": "outcome"}, "'covariate' parameter must be 'champion' or 'noise'"),
    ],
    ids=["sims", "share", "q_sd", "covariate"],
)
def test_bad_simulation_parameters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        simulate_cuped(**kwargs)  # type: ignore[arg-type]
