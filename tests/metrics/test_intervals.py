from __future__ import annotations

import math

import pytest

from stagewise import ConfigError
from stagewise.metrics import wilson_interval


def test_wilson_known_value() -> None:
    # Reference: Wilson (1927) interval for 25/100 at 95 %: 0.1754 .. 0.3430.
    low, high = wilson_interval(25, 100)
    assert low == pytest.approx(0.1754, abs=1e-4)
    assert high == pytest.approx(0.3430, abs=1e-4)


def test_wilson_no_trials_is_unknown() -> None:
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(ConfigError, match="successes=5, trials=3"):
        wilson_interval(5, 3)
