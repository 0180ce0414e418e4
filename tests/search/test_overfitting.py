"""CPCV paths, PBO and the deflated Sharpe ratio against the papers' definitions and examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stagewise import ConfigError
from stagewise.search import (
    cpcv_paths,
    cpcv_splits,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
)


@given(st.integers(2, 9).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n - 1))))
def test_every_cpcv_path_tests_every_group_once_with_a_split_that_tests_it(nk: tuple[int, int]) -> None:
    n, k = nk
    splits = cpcv_splits(n, k)
    paths = cpcv_paths(n, k)
    assert len(splits) == math.comb(n, k)
    assert paths.shape == (math.comb(n - 1, k - 1), n)  # phi = k/N * C(N, k) paths
    for path in paths:
        for group, split in enumerate(path):
            assert group in splits[split]
    # each split's test groups are used exactly once over all paths
    used = sorted((int(s), g) for p in paths for g, s in enumerate(p))
    assert used == sorted((i, g) for i, test in enumerate(splits) for g in test)


def test_pbo_is_zero_when_one_candidate_wins_everywhere_and_one_when_the_in_sample_winner_always_loses() -> (
    None
):
    dominant = np.tile([0.6, 0.5, 0.4, 0.3], (8, 1))
    assert probability_of_backtest_overfitting(dominant).pbo == 0.0
    # candidate c is excellent in block c's half and bad elsewhere: the in-sample best is out-of-sample worst
    flip = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    result = probability_of_backtest_overfitting(flip)
    assert result.n_combinations == 6
    # the 2 pure halves flip (logit ln 1/2); in the 4 mixed ones both tie at the median: logit 0 counts
    assert result.pbo == 1.0
    assert sorted(result.logits) == pytest.approx([math.log(0.5)] * 2 + [0.0] * 4)


def test_pbo_of_pure_noise_is_near_one_half() -> None:
    rng = np.random.default_rng(7)
    values = [probability_of_backtest_overfitting(rng.normal(size=(10, 30))).pbo for _ in range(40)]
    assert 0.35 < float(np.mean(values)) < 0.65


def test_the_deflated_sharpe_ratio_reproduces_the_papers_example() -> None:
    # Bailey & Lopez de Prado (2014), section 6: SR 2.5 a year, 5 years of days, 100 trials of variance 0.5
    # a year, skewness -3, kurtosis 10: DSR = 0.9004.
    assert deflated_sharpe_ratio(2.5 / math.sqrt(250), 1250, -3.0, 10.0, 100, 0.5 / 250) == pytest.approx(
        0.9004, abs=5e-4
    )


def test_more_trials_deflate_the_same_sharpe_more() -> None:
    one = deflated_sharpe_ratio(0.05, 2000, 0.0, 3.0, 1, 0.001)
    many = deflated_sharpe_ratio(0.05, 2000, 0.0, 3.0, 1000, 0.001)
    assert one > 0.98 > many


@pytest.mark.parametrize(("n", "k"), [(1, 1), (6, 0), (6, 6)])
def test_bad_cpcv_sizes_are_refused(n: int, k: int) -> None:
    with pytest.raises(ConfigError, match="cpcv_"):
        cpcv_splits(n, k)
