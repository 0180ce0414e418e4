from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2

from stagewise._exceptions import ConfigError
from stagewise.rollout.experiments.paired import mcnemar_test, paired_bootstrap


def _pairs(both: int, champ_only: int, chall_only: int, neither: int) -> tuple[list[int], list[int]]:
    champion = [1] * both + [1] * champ_only + [0] * chall_only + [0] * neither
    challenger = [1] * both + [0] * champ_only + [1] * chall_only + [0] * neither
    return champion, challenger


def test_exact_branch_matches_hand_computed_binomial() -> None:
    # b = 9, c = 1: two-sided P = 2 * (C(10,0) + C(10,1)) / 2^10 = 22 / 1024
    r = mcnemar_test(*_pairs(30, 9, 1, 60))
    assert r.method == "exact"
    assert math.isclose(r.p_value, 22 / 1024)
    assert (r.champion_only, r.challenger_only, r.n_races) == (9, 1, 100)
    assert math.isclose(r.difference, -0.08)
    # one-sided "challenger worse": P(C <= 1) = 11 / 1024
    assert math.isclose(mcnemar_test(*_pairs(30, 9, 1, 60), alternative="less").p_value, 11 / 1024)


def test_chi_square_branch_on_agrestis_approval_example() -> None:
    # Agresti, Categorical Data Analysis: 794 / 150 / 86 / 570. (|150-86|-1)^2 / 236 = 3969 / 236
    r = mcnemar_test(*_pairs(794, 150, 86, 570))
    assert r.method == "chi2-cc"
    assert math.isclose(r.statistic, 3969 / 236)
    assert math.isclose(r.p_value, float(chi2.sf(3969 / 236, 1)))
    assert r.p_value < 1e-4
    less = mcnemar_test(*_pairs(794, 150, 86, 570), alternative="less")
    assert math.isclose(less.p_value, r.p_value / 2, rel_tol=0.02)
    assert mcnemar_test(*_pairs(794, 150, 86, 570), alternative="greater").p_value > 0.99


def test_boundary_between_exact_and_chi_square() -> None:
    assert mcnemar_test(*_pairs(0, 13, 12, 10)).method == "chi2-cc"  # 25 discordant
    assert mcnemar_test(*_pairs(0, 12, 12, 10)).method == "exact"  # 24 discordant


def test_identical_models_have_p_one() -> None:
    r = mcnemar_test([1, 0, 1, 1], [True, False, True, True])
    assert r.p_value == 1.0
    assert r.difference == 0.0


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([1, 0], [1], "2 champion values and 1 challenger"),
        ([1, 2], [1, 0], "0/1"),
        ([], [], "at least one race"),
    ],
    ids=["length", "values", "empty"],
)
def test_mcnemar_bad_input(a: list[int], b: list[int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        mcnemar_test(a, b)


def test_bootstrap_covers_a_known_shift_and_is_reproducible() -> None:
    rng = np.random.default_rng(0)
    champion = rng.uniform(0.3, 0.9, size=400)
    challenger = champion - 0.03 + rng.normal(0, 0.05, size=400)
    r = paired_bootstrap(champion, challenger, seed=7)
    assert math.isclose(r.mean_difference, float(np.mean(challenger - champion)))
    assert r.ci_low < -0.03 < r.ci_high
    assert r.ci_high < 0  # 400 races detect a 0.03 drop with sd 0.05
    # the paired interval is about as wide as mean +- 1.96 sd / sqrt(n) of the differences
    se = float(np.std(challenger - champion, ddof=1) / np.sqrt(400))
    assert math.isclose(r.ci_high - r.ci_low, 2 * 1.96 * se, rel_tol=0.15)
    assert paired_bootstrap(champion, challenger, seed=7) == r


def test_bootstrap_is_paired_not_independent() -> None:
    rng = np.random.default_rng(1)
    champion = rng.uniform(0.0, 1.0, size=300)  # large race-to-race variance
    challenger = champion + 0.01  # the same races, a small constant gain
    challenger[::2] += 0.001
    r = paired_bootstrap(champion, challenger, seed=0)
    assert r.ci_low > 0.0099  # an unpaired interval would span about +-0.05


def test_bootstrap_bad_input() -> None:
    with pytest.raises(ConfigError, match="NaN"):
        paired_bootstrap([0.5, float("nan")], [0.5, 0.6])
    with pytest.raises(ConfigError, match="at least 2 races"):
        paired_bootstrap([0.5], [0.6])
    with pytest.raises(ConfigError, match="'confidence'"):
        paired_bootstrap([0.5, 0.6], [0.6, 0.7], confidence=95)
