from __future__ import annotations

import math
from typing import Any

import pytest

from stagewise._exceptions import ConfigError
from stagewise.rollout.experiments.aa import simulate_aa, simulate_health_gate, simulate_power

# 2,000 simulations: the Monte-Carlo standard error of a rate near 0.05 is
# sqrt(0.05 * 0.95 / 2000) = 0.0049; the margin below is 3 of them.
N_SIMS = 2000
MARGIN = 3 * math.sqrt(0.05 * 0.95 / N_SIMS)


@pytest.mark.parametrize("share", [0.5, 0.1], ids=["50pct", "10pct"])
def test_sequential_false_rollback_rate_stays_below_alpha_over_30_daily_looks(share: float) -> None:
    r = simulate_aa(
        n_sims=N_SIMS, days=30, races_per_day=140, p=0.25, alpha=0.05, seed=11, treatment_share=share
    )
    assert r.sequential.rate <= 0.05 + MARGIN
    # the contrast: the same data, a fixed-horizon test looked at daily, rolls back far too often
    assert r.naive.rate > 3 * 0.05
    assert r.naive.fired > r.sequential.fired


def test_naive_rate_with_a_single_look_is_alpha() -> None:
    # With one look the naive test is a valid one-sided 5 % test: sanity check of the harness itself.
    r = simulate_aa(n_sims=N_SIMS, days=1, races_per_day=2000, seed=5)
    assert abs(r.naive.rate - 0.05) < MARGIN


def test_power_for_win_hit_25_to_20_percent() -> None:
    r = simulate_power(n_sims=1000, p_control=0.25, p_treatment=0.20, seed=4)
    assert r.sequential.rate > 0.8  # 50/50 split, 140 races a day, 30 days
    assert r.sequential.median_day is not None
    assert r.sequential.median_day < 20


def test_same_seed_same_result() -> None:
    assert simulate_aa(n_sims=100, seed=9) == simulate_aa(n_sims=100, seed=9)
    assert simulate_aa(n_sims=100, seed=9) != simulate_aa(n_sims=100, seed=10)


def test_wilson_interval_of_the_rate() -> None:
    r = simulate_aa(n_sims=400, seed=1)
    low, high = r.naive.interval()
    assert low < r.naive.rate < high


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_sims": 0}, "'n_sims' parameter must be an int >= 1. Got 0"),
        ({"days": 2.5}, "'days'"),
        ({"p": 1.2}, "'p' parameter must be a hit rate"),
        ({"treatment_share": 1.0}, "'treatment_share'"),
        ({"alpha": 0.0}, "'alpha'"),
    ],
    ids=["sims", "days", "p", "share", "alpha"],
)
def test_bad_parameters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        simulate_aa(**kwargs)  # type: ignore[arg-type]


def test_progress_is_reported_per_batch_and_does_not_change_the_result() -> None:
    calls: list[tuple[int, int]] = []
    with_progress = simulate_aa(
        n_sims=25_000, days=5, races_per_day=20, seed=2, progress=lambda d, n: calls.append((d, n))
    )
    assert calls == [(10_000, 25_000), (20_000, 25_000), (25_000, 25_000)]
    assert with_progress == simulate_aa(n_sims=25_000, days=5, races_per_day=20, seed=2)


def test_absolute_gate_fires_often_on_a_baseline_level_model_and_rarely_on_a_strong_one() -> None:
    weak = simulate_health_gate(n_sims=2000, treatment_share=0.1, p_win=0.25, p_trifecta=0.07, seed=3)
    strong = simulate_health_gate(n_sims=2000, treatment_share=0.5, p_win=0.35, p_trifecta=0.12, seed=3)
    assert weak.rate > 0.3  # the seed's 5 % trifecta line is inside the noise of 100 races
    assert strong.rate < 0.01  # about 500 races a window: 12 % is far from 5 %
    with pytest.raises(ConfigError, match="cannot exceed"):
        simulate_health_gate(p_win=0.1, p_trifecta=0.2)


def test_the_upper_bound_rule_spares_a_baseline_level_model_and_still_catches_a_failing_one() -> None:
    """The default health rule: a CRITICAL line must be crossed by the Wilson upper bound, not the point."""
    common: dict[str, Any] = {"n_sims": 2000, "treatment_share": 0.1, "seed": 3, "max_window_days": 28}
    fine = {"p_win": 0.25, "p_trifecta": 0.07}
    assert simulate_health_gate(**common, **fine, critical_rule="point").rate > 0.3
    assert simulate_health_gate(**common, **fine, critical_rule="upper_bound").rate < 0.05
    failing = {"p_win": 0.17, "p_trifecta": 0.01}  # a model fitted on noise: trifecta ~ 1/120
    caught = simulate_health_gate(**common, **failing, critical_rule="upper_bound")
    assert caught.rate > 0.95
    assert caught.median_day is not None
    assert caught.median_day <= 12
    with pytest.raises(ConfigError, match="'critical_rule' parameter must be 'point' or 'upper_bound'"):
        simulate_health_gate(critical_rule="wilson")
    with pytest.raises(ConfigError, match="'max_window_days' parameter must be >= window_days"):
        simulate_health_gate(max_window_days=3)
