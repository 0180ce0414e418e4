"""next_bar_direction and label_end: the future by design, and exactly as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stagewise import ConfigError, DataValidationError
from stagewise.data import bundled_bars
from stagewise.features import label_end, next_bar_direction


def test_up_is_one_flat_or_down_is_zero_last_bars_are_nan() -> None:
    bars = pd.DataFrame({"close": [1.0, 2.0, 2.0, 1.5, 3.0]})
    assert next_bar_direction(bars).tolist()[:4] == [1.0, 0.0, 0.0, 1.0]
    assert np.isnan(next_bar_direction(bars).iloc[-1])
    two = next_bar_direction(bars, horizon=2)
    assert two.tolist()[:3] == [1.0, 0.0, 1.0]
    assert two.iloc[-2:].isna().all()
    assert two.name == "next_bar_direction"


def test_horizon_longer_than_the_series_gives_only_nan() -> None:
    assert next_bar_direction(pd.DataFrame({"close": [1.0, 2.0]}), horizon=5).isna().all()


@settings(max_examples=60, deadline=None)
@given(
    close=arrays(np.float64, st.integers(1, 60), elements=st.floats(0.01, 1e6, allow_nan=False)),
    horizon=st.integers(1, 10),
)
def test_label_compares_close_h_bars_ahead(close: np.ndarray, horizon: int) -> None:
    labels = next_bar_direction(pd.DataFrame({"close": close}), horizon=horizon).to_numpy()
    for t in range(close.size):
        if t + horizon < close.size:
            assert labels[t] == float(close[t + horizon] > close[t])
        else:
            assert np.isnan(labels[t])


def test_eurusd_is_close_to_a_coin_flip() -> None:
    labels = next_bar_direction(bundled_bars("EURUSD")).dropna()
    assert len(labels) == 4999
    assert 0.45 < labels.mean() < 0.55


def test_label_end_is_the_timestamp_h_bars_later() -> None:
    bars = bundled_bars("EURUSD").iloc[:30]
    ends = label_end(bars, horizon=3)
    assert ends.iloc[0] == bars.index[3]
    assert ends.iloc[-3:].isna().all()
    # the Friday bar's label ends after the weekend: purging must use timestamps, not bar counts
    friday = pd.Timestamp("2017-04-21 19:00")
    assert label_end(bundled_bars("EURUSD"), horizon=2)[friday] == pd.Timestamp("2017-04-23 21:00")


@pytest.mark.parametrize("horizon", [0, -1, 1.5, True])
def test_bad_horizon_is_a_config_error(horizon: object) -> None:
    with pytest.raises(ConfigError, match=rf"'horizon' parameter must be an int >= 1\. Got {horizon!r}"):
        next_bar_direction(pd.DataFrame({"close": [1.0, 2.0]}), horizon=horizon)  # type: ignore[arg-type]


def test_bars_without_close_are_refused() -> None:
    with pytest.raises(DataValidationError, match=r"need bars with a 'close' column.*Got \['Close'\]"):
        next_bar_direction(pd.DataFrame({"Close": [1.0, 2.0]}))
