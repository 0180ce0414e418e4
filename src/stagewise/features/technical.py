"""The seed's 12 technical features, computed with TA-Lib.

Every indicator is a TA-Lib function; the only arithmetic here combines TA-Lib outputs into a
ratio. With ``close`` = C, ``high`` = H, ``low`` = L and ``volume`` = V:

==============  ==================================================  ===========================
feature         definition                                          TA-Lib
==============  ==================================================  ===========================
close           C                                                   -
volume          V                                                   -
returns_1       (C_t - C_{t-1}) / C_{t-1}                           ROCP(C, 1)
rsi_14          Wilder RSI over 14 bars                             RSI(C, 14)
macd            EMA12(C) - EMA26(C)                                 MACD(C, 12, 26, 9)[0]
macd_signal     EMA9 of macd                                        MACD(C, 12, 26, 9)[1]
atr_14          Wilder average true range over 14 bars              ATR(H, L, C, 14)
bb_position     (C - lower) / (upper - lower), bands SMA20 ± 2 SD   BBANDS(C, 20, 2, 2, SMA)
ema_20          EMA20(C)                                            EMA(C, 20)
ema_50          EMA50(C)                                            EMA(C, 50)
zscore          (C - SMA20(C)) / SD20(C)                            SMA(C, 20), STDDEV(C, 20, 1)
volume_ratio    V / SMA20(V)                                        SMA(V, 20)
==============  ==================================================  ===========================

SD is TA-Lib's population standard deviation (divides by N). When a denominator is 0 the
numerator is 0 too (20 equal closes, or 20 bars of zero volume), and the feature takes its
neutral value: ``bb_position`` 0.5, ``zscore`` 0, ``volume_ratio`` 1.

**Warm-up.** The first :data:`WARMUP_BARS` = 49 rows contain NaN (EMA50 needs 50 closes; the
other lookbacks are shorter: MACD signal 33, BBANDS/SMA/STDDEV/EMA20 19, RSI/ATR 14, ROCP 1);
from row 49 on every feature is finite. :func:`drop_warmup` removes those rows.

**Causality.** TA-Lib computes each output from the inputs up to and including that bar, in
one forward pass from the first bar. So the features of bar t never change when later bars
are added or removed (property-tested bit for bit). They do depend on *where the series
starts*: EMA, MACD, RSI and ATR are seeded from their first window and converge over a few
times their period (TA-Lib's "unstable period", left at its default 0). Compute features once
on the whole history and slice afterwards, which is what the walk-forward backtest does.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
import talib

from stagewise._exceptions import DataValidationError
from stagewise.data.markets.schema import BAR_COLUMNS, validate_bars

__all__ = ["FEATURE_NAMES", "WARMUP_BARS", "TechnicalIndicators", "drop_warmup"]

FEATURE_NAMES: Final[list[str]] = [
    "close",
    "volume",
    "returns_1",
    "rsi_14",
    "macd",
    "macd_signal",
    "atr_14",
    "bb_position",
    "ema_20",
    "ema_50",
    "zscore",
    "volume_ratio",
]

#: Rows at the start of every feature frame that hold at least one NaN (EMA50's lookback).
WARMUP_BARS: Final[int] = 49


def _ratio(numerator: np.ndarray, denominator: np.ndarray, neutral: float) -> np.ndarray:
    """numerator / denominator, with ``neutral`` where the denominator is 0 (NaN stays NaN)."""
    out = np.full_like(numerator, np.nan)
    nonzero = denominator != 0
    np.divide(numerator, denominator, out=out, where=nonzero)
    out[(denominator == 0) & np.isfinite(numerator)] = neutral
    return out


def _check_schema(bars: object) -> pd.DataFrame:
    if not isinstance(bars, pd.DataFrame):
        raise DataValidationError(f"generate_all_features needs a bars DataFrame. Got {type(bars).__name__}.")
    missing = [column for column in BAR_COLUMNS if column not in bars.columns]
    if missing:
        raise DataValidationError(
            f"generate_all_features: missing column {missing[0]!r} (have {[str(c) for c in bars.columns]}; "
            f"need {list(BAR_COLUMNS)} and a DatetimeIndex 'timestamp'). Read files with "
            "stagewise.data.load_bars() (it maps 'Open', 'Close', 'Date', ...) or check a frame "
            "with stagewise.data.validate_bars()."
        )
    return validate_bars(bars, gaps="allow")


class TechnicalIndicators:
    """Compute the seed's 12 technical features from OHLCV bars with TA-Lib.

    The formulas, the warm-up and the causality guarantee are in the module docstring and in
    ``docs/features.md``. The output has exactly the columns :data:`FEATURE_NAMES`, in order,
    float64, on the index of the bars.

    Examples
    --------
    >>> from stagewise.data import synthetic_bars
    >>> from stagewise.features.technical import FEATURE_NAMES, TechnicalIndicators, drop_warmup
    >>> bars = synthetic_bars(500, seed=1)
    >>> features = TechnicalIndicators().generate_all_features(bars)
    >>> list(features.columns) == FEATURE_NAMES, len(features.columns)
    (True, 12)
    >>> bool(features.iloc[:49].isna().any(axis=1).all()), bool(drop_warmup(features).notna().all().all())
    (True, True)
    """

    feature_names: Final[list[str]] = FEATURE_NAMES

    def generate_all_features(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Return the 12 features of every bar (warm-up rows NaN).

        Parameters
        ----------
        bars : DataFrame
            Bars in the canonical schema (lower-case ``open, high, low, close, volume`` and a
            DatetimeIndex); they are validated (gaps allowed) before anything is computed.

        Returns
        -------
        DataFrame
            Columns :data:`FEATURE_NAMES`, float64, same index as ``bars``.

        Raises
        ------
        DataValidationError
            When a column is missing or a value breaks the bar schema; the message points to
            ``load_bars``/``validate_bars``.
        """
        clean = _check_schema(bars)
        high = clean["high"].to_numpy()
        low = clean["low"].to_numpy()
        close = clean["close"].to_numpy()
        volume = clean["volume"].to_numpy()

        macd, macd_signal, _ = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
        sma = talib.MA_Type.SMA  # type: ignore[attr-defined]  # talib's stub does not re-export MA_Type
        upper, _, lower = talib.BBANDS(close, timeperiod=20, nbdevup=2, nbdevdn=2, matype=sma)
        sma_20 = talib.SMA(close, timeperiod=20)
        sd_20 = talib.STDDEV(close, timeperiod=20, nbdev=1)
        columns = (
            close,
            volume,
            talib.ROCP(close, timeperiod=1),
            talib.RSI(close, timeperiod=14),
            macd,
            macd_signal,
            talib.ATR(high, low, close, timeperiod=14),
            _ratio(close - lower, upper - lower, 0.5),
            talib.EMA(close, timeperiod=20),
            talib.EMA(close, timeperiod=50),
            _ratio(close - sma_20, sd_20, 0.0),
            _ratio(volume, talib.SMA(volume, timeperiod=20), 1.0),
        )  # in FEATURE_NAMES order
        # One (12, n) block: the frame wraps it without copying (a dict of columns would be stacked).
        values = np.empty((len(FEATURE_NAMES), len(clean)))
        for row, column in enumerate(columns):
            values[row] = column
        return pd.DataFrame(values.T, index=bars.index, columns=list(FEATURE_NAMES), copy=False)


def drop_warmup(features: pd.DataFrame) -> pd.DataFrame:
    """Drop the first :data:`WARMUP_BARS` rows, where at least one feature is still NaN.

    Parameters
    ----------
    features : DataFrame
        The output of :meth:`TechnicalIndicators.generate_all_features`.

    Returns
    -------
    DataFrame
        The rows from the 50th bar on (empty when there are 49 bars or fewer).

    Examples
    --------
    >>> from stagewise.data import synthetic_bars
    >>> features = TechnicalIndicators().generate_all_features(synthetic_bars(60))
    >>> len(drop_warmup(features))
    11
    """
    return features.iloc[WARMUP_BARS:]
