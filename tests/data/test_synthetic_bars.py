"""synthetic_bars: valid, reproducible, with volatility clustering and regimes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise import ConfigError
from stagewise.data import find_gaps, synthetic_bars, validate_bars
from stagewise.data.markets.synthetic import _garch_variance


def _abs_return_autocorrelation(bars: pd.DataFrame, lag: int) -> float:
    r = np.abs(np.diff(np.log(bars["close"].to_numpy())))
    return float(np.corrcoef(r[:-lag], r[lag:])[0, 1])


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=2_000),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    freq=st.sampled_from(["1min", "5min", "1h", "1D"]),
)
def test_bars_are_valid_gapless_and_reproducible(n: int, seed: int, freq: str) -> None:
    bars = synthetic_bars(n, freq=freq, seed=seed)
    assert len(bars) == n
    pd.testing.assert_frame_equal(validate_bars(bars, gaps="error", freq=freq, session="continuous"), bars)
    pd.testing.assert_frame_equal(synthetic_bars(n, freq=freq, seed=seed), bars)


def test_different_seeds_differ_and_start_is_respected() -> None:
    a = synthetic_bars(100, seed=1, start="2021-06-01 09:00")
    b = synthetic_bars(100, seed=2, start="2021-06-01 09:00")
    assert not np.allclose(a["close"], b["close"])
    assert a.index[0] == pd.Timestamp("2021-06-01 09:00")
    assert a["open"].iloc[0] == 100.0
    np.testing.assert_array_equal(a["open"].to_numpy()[1:], a["close"].to_numpy()[:-1])


def test_volatility_clusters_and_vanishes_without_garch_or_regimes() -> None:
    clustered = synthetic_bars(40_000, seed=3)
    plain = synthetic_bars(40_000, seed=3, garch_alpha=0.0, garch_beta=0.0, regime_volatility=(1.0, 1.0))
    assert _abs_return_autocorrelation(clustered, 1) > 0.15
    assert abs(_abs_return_autocorrelation(plain, 1)) < 0.03


def test_regimes_alone_make_volatility_persistent_over_long_lags() -> None:
    regimes_only = synthetic_bars(
        40_000, seed=4, garch_alpha=0.0, garch_beta=0.0, regime_volatility=(0.5, 2.5)
    )
    assert _abs_return_autocorrelation(regimes_only, 50) > 0.1
    # and turbulent bars trade more: volume rises with volatility
    r = np.abs(np.diff(np.log(regimes_only["close"].to_numpy())))
    assert np.corrcoef(r, regimes_only["volume"].to_numpy()[1:])[0, 1] > 0.2


def test_a_million_bars_stay_in_a_plausible_price_range() -> None:
    bars = synthetic_bars(1_000_000, freq="1min", seed=0)
    assert find_gaps(bars).n_gaps == 0
    assert bars["close"].min() > 0.1
    assert bars["close"].max() < 100_000


@pytest.mark.parametrize(
    ("alpha", "beta"), [(0.08, 0.9), (0.3, 0.0), (0.1, 0.5), (0.0, 0.95), (0.05, 0.94), (0.0, 0.0)]
)
def test_vectorised_garch_equals_the_plain_recursion(alpha: float, beta: float) -> None:
    z = np.random.default_rng(11).standard_normal(3_000)
    expected = np.empty_like(z)
    expected[0] = 1.0
    for t in range(1, z.size):
        expected[t] = (1 - alpha - beta) + (alpha * z[t - 1] ** 2 + beta) * expected[t - 1]
    np.testing.assert_allclose(_garch_variance(z, alpha, beta), expected, rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"n": 0}, "'n' parameter of synthetic_bars must be an int >= 1. Got 0.", id="n"),
        pytest.param(
            {"n": 10, "garch_alpha": 0.5, "garch_beta": 0.6}, "sum < 1. Got alpha=0.5, beta=0.6", id="garch"
        ),
        pytest.param(
            {"n": 10, "volatility": 0.0}, "'volatility' parameter of synthetic_bars must be > 0", id="vol"
        ),
        pytest.param(
            {"n": 10, "regime_persistence": (1.0, 0.9)}, "two probabilities in (0, 1)", id="persistence"
        ),
        pytest.param(
            {"n": 10, "freq": "sometimes"}, "'freq' parameter must be a pandas offset alias", id="freq"
        ),
        pytest.param({"n": 5_000_000, "freq": "1h"}, "would run past 2262-04-11", id="too-long"),
    ],
)
def test_bad_parameters_are_named(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        synthetic_bars(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)
