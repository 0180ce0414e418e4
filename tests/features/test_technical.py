"""TechnicalIndicators: the seed's 12 columns, the documented formulas, warm-up and causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise import DataValidationError
from stagewise.data import bundled_bars, synthetic_bars
from stagewise.features import FEATURE_NAMES, WARMUP_BARS, TechnicalIndicators, drop_warmup

SEED_FEATURES = [
    "close", "volume", "returns_1", "rsi_14", "macd", "macd_signal",
    "atr_14", "bb_position", "ema_20", "ema_50", "zscore", "volume_ratio",
]  # fmt: skip


@pytest.fixture(scope="module")
def eurusd_features() -> tuple[pd.DataFrame, pd.DataFrame]:
    bars = bundled_bars("EURUSD")
    return bars, TechnicalIndicators().generate_all_features(bars)


def test_seed_contract_twelve_columns_in_order(eurusd_features: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    bars, features = eurusd_features
    assert FEATURE_NAMES == SEED_FEATURES
    assert len(features.columns) == 12
    assert list(features.columns) == FEATURE_NAMES
    assert (features.dtypes == "float64").all()
    pd.testing.assert_index_equal(features.index, bars.index)


def test_warm_up_rows_are_nan_and_the_rest_finite(eurusd_features: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, features = eurusd_features
    assert WARMUP_BARS == 49
    assert features.iloc[:WARMUP_BARS].isna().any(axis=1).all()
    assert np.isfinite(drop_warmup(features).to_numpy()).all()
    assert len(drop_warmup(features)) == 5000 - 49


def test_features_are_the_documented_talib_and_rolling_formulas(
    eurusd_features: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    bars, features = eurusd_features
    close, volume = bars["close"], bars["volume"]
    mean20, sd20 = close.rolling(20).mean(), close.rolling(20).std(ddof=0)
    expected = pd.DataFrame(
        {
            "close": close,
            "volume": volume,
            "returns_1": close.pct_change(),
            "rsi_14": talib.RSI(close.to_numpy(), 14),
            "macd": talib.MACD(close.to_numpy(), 12, 26, 9)[0],
            "macd_signal": talib.MACD(close.to_numpy(), 12, 26, 9)[1],
            "atr_14": talib.ATR(bars["high"].to_numpy(), bars["low"].to_numpy(), close.to_numpy(), 14),
            "bb_position": (close - (mean20 - 2 * sd20)) / (4 * sd20),
            "ema_20": talib.EMA(close.to_numpy(), 20),
            "ema_50": talib.EMA(close.to_numpy(), 50),
            "zscore": (close - mean20) / sd20,
            "volume_ratio": volume / volume.rolling(20).mean(),
        },
        index=bars.index,
    )
    pd.testing.assert_frame_equal(features, expected, rtol=1e-6, check_freq=False)
    # EMA and MACD are the classic definitions: EMA seeded with the SMA of the first window.
    ema = close.iloc[:20].mean()
    for price in close.iloc[20:60]:
        ema += (price - ema) * 2 / 21
    assert features["ema_20"].iloc[59] == pytest.approx(ema, rel=1e-12)
    assert features["macd"].iloc[200] == pytest.approx(
        talib.EMA(close.to_numpy(), 12)[200] - talib.EMA(close.to_numpy(), 26)[200], rel=1e-9
    )


def test_flat_market_takes_the_neutral_values() -> None:
    idx = pd.date_range("2024-01-01", periods=80, freq="1h", name="timestamp")
    flat = pd.DataFrame({"open": 1.5, "high": 1.5, "low": 1.5, "close": 1.5, "volume": 0.0}, index=idx)
    features = drop_warmup(TechnicalIndicators().generate_all_features(flat))
    assert (features["bb_position"] == 0.5).all()
    assert (features["zscore"] == 0.0).all()
    assert (features["volume_ratio"] == 1.0).all()
    assert (features["atr_14"] == 0.0).all()


def test_capitalised_columns_point_to_load_bars() -> None:
    bars = bundled_bars("EURUSD").rename(columns=str.capitalize)
    with pytest.raises(DataValidationError) as info:
        TechnicalIndicators().generate_all_features(bars)
    message = str(info.value)
    assert "missing column 'open'" in message
    assert "load_bars()" in message
    assert "validate_bars()" in message


def test_invalid_bars_are_refused_before_computing() -> None:
    bars = bundled_bars("EURUSD").iloc[:100].copy()
    bars.iloc[60, bars.columns.get_loc("high")] = 0.5
    with pytest.raises(DataValidationError, match=r"'high' is below 'low' at timestamp 2017-04-23 21:00:00"):
        TechnicalIndicators().generate_all_features(bars)


def test_fewer_bars_than_the_warm_up_give_all_nan_rows() -> None:
    features = TechnicalIndicators().generate_all_features(synthetic_bars(30))
    assert len(features) == 30
    assert features["ema_50"].isna().all()
    assert drop_warmup(features).empty


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n=st.integers(min_value=2, max_value=400),
    data=st.data(),
)
def test_features_at_t_do_not_change_when_later_bars_are_removed(
    seed: int, n: int, data: st.DataObject
) -> None:
    bars = synthetic_bars(n, seed=seed, volatility=data.draw(st.sampled_from([1e-4, 4e-3, 5e-2])))
    t = data.draw(st.integers(min_value=0, max_value=n - 1), label="t")
    indicators = TechnicalIndicators()
    full = indicators.generate_all_features(bars)
    prefix = indicators.generate_all_features(bars.iloc[: t + 1])
    # Bit for bit: TA-Lib computes every output in one forward pass from the first bar.
    pd.testing.assert_frame_equal(prefix, full.iloc[: t + 1], check_exact=True, check_freq=False)
