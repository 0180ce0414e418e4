from __future__ import annotations

import math

import numpy as np
import pytest

from stagewise import ConfigError
from stagewise.metrics.bootstrap import day_block_bootstrap_mean, day_block_bootstrap_ratio


def test_interval_is_reproducible_and_brackets_the_mean() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(0.6, 0.1, 600)
    days = np.repeat(np.arange(30), 20)
    first = day_block_bootstrap_mean(values, days)
    assert first == day_block_bootstrap_mean(values, days)
    assert first[0] < values.mean() < first[1]
    assert first != day_block_bootstrap_mean(values, days, seed=1)


def test_resampling_days_widens_the_interval_when_days_share_a_shock() -> None:
    rng = np.random.default_rng(1)
    days = np.repeat(np.arange(20), 50)
    shocks = rng.normal(0, 0.2, 20)[days]
    values = 0.5 + shocks + rng.normal(0, 0.05, len(days))
    by_day = day_block_bootstrap_mean(values, days)
    by_row = day_block_bootstrap_mean(values, np.arange(len(values)))
    assert by_day[1] - by_day[0] > 3 * (by_row[1] - by_row[0])


def test_nan_values_are_left_out_and_one_day_has_no_interval() -> None:
    low, high = day_block_bootstrap_mean([1.0, float("nan"), 1.0, 1.0], [1, 1, 2, 3])
    assert (low, high) == (1.0, 1.0)
    assert all(math.isnan(v) for v in day_block_bootstrap_mean([0.2, 0.4], [7, 7]))


def test_ratio_matches_hand_computed_full_sample_value_inside_interval() -> None:
    num = np.array([1, 0, 1, 1, 0, 1, 1, 1], dtype=float)
    den = np.array([1, 1, 1, 1, 1, 1, 0, 1], dtype=float)
    low, high = day_block_bootstrap_ratio(num, den, [1, 1, 2, 2, 3, 3, 4, 4])
    assert low <= num.sum() / den.sum() <= high


def test_bad_parameters() -> None:
    with pytest.raises(ConfigError, match=r"'n_resamples' parameter must be an int >= 1\. Got 0"):
        day_block_bootstrap_mean([1.0], [1], n_resamples=0)
    with pytest.raises(ConfigError, match="'confidence'"):
        day_block_bootstrap_mean([1.0], [1], confidence=1.5)
