"""The 12 technical features on 1,000,000 synthetic bars: stagewise (TA-Lib) vs pandas-ta (pure pandas/NumPy).

Both sides compute the same indicators with the same parameters (ROCP 1, RSI 14, MACD 12/26/9,
ATR 14, Bollinger 20/2 with population SD, EMA 20/50, z-score on SMA20/population SD20, volume /
SMA20). pandas-ta is called with ``talib=False`` so that it uses its own implementation rather than
delegating to TA-Lib. The agreement of the two results after the warm-up is reported beside the times.

pandas-ta itself cannot be installed on Python 3.11: its only releases left on PyPI (0.4.67b0,
0.4.71b0) require Python >= 3.12. The benchmark uses ``pandas-ta-classic``, the maintained
continuation of the same code base (``import pandas_ta_classic``), from the ``bench`` extra.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from importlib.metadata import version

import numpy as np
import pandas as pd

from _report import write_section
from stagewise.data import synthetic_bars
from stagewise.features import FEATURE_NAMES, WARMUP_BARS, TechnicalIndicators

N_BARS = 1_000_000
REPEATS = 3


def pandas_ta_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The same 12 features with pandas-ta's own (non-TA-Lib) implementations."""
    import pandas_ta_classic as ta

    close, high, low, volume = bars["close"], bars["high"], bars["low"], bars["volume"]
    macd = ta.macd(close, fast=12, slow=26, signal=9, talib=False)
    bands = ta.bbands(close, length=20, std=2.0, ddof=0, mamode="sma", talib=False)
    sma_20 = ta.sma(close, length=20, talib=False)
    sd_20 = ta.stdev(close, length=20, ddof=0, talib=False)
    out = pd.DataFrame(
        {
            "close": close,
            "volume": volume,
            "returns_1": ta.percent_return(close, length=1),
            "rsi_14": ta.rsi(close, length=14, talib=False),
            "macd": macd["MACD_12_26_9"],
            "macd_signal": macd["MACDs_12_26_9"],
            "atr_14": ta.atr(high, low, close, length=14, mamode="rma", talib=False),
            "bb_position": bands["BBP_20_2.0"],
            "ema_20": ta.ema(close, length=20, talib=False),
            "ema_50": ta.ema(close, length=50, talib=False),
            "zscore": (close - sma_20) / sd_20,
            "volume_ratio": volume / ta.sma(volume, length=20, talib=False),
        },
        index=bars.index,
    )
    return out[FEATURE_NAMES]


def _time(function: Callable[[pd.DataFrame], pd.DataFrame], bars: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    times, result = [], pd.DataFrame()
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = function(bars)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    load = os.getloadavg()[0]
    start = time.perf_counter()
    bars = synthetic_bars(N_BARS, freq="1min", seed=0)
    generate_seconds = time.perf_counter() - start

    ours_seconds, ours = _time(TechnicalIndicators().generate_all_features, bars)
    theirs_seconds, theirs = _time(pandas_ta_features, bars)

    # Compare after a settle of 1,000 bars; differences are scaled by each feature's spread.
    settle = 1_000
    a, b = ours.iloc[settle:].to_numpy(), theirs.iloc[settle:].to_numpy()
    spread = np.nanstd(a, axis=0)
    worst = {
        name: float(np.nanmax(np.abs(a[:, i] - b[:, i])) / spread[i]) for i, name in enumerate(FEATURE_NAMES)
    }
    nan_rows = int(ours.iloc[:WARMUP_BARS].isna().any(axis=1).sum())

    ours_label = (
        f"stagewise `TechnicalIndicators().generate_all_features` (TA-Lib {version('ta-lib')}, "
        "includes `validate_bars`)"
    )
    theirs_label = f"pandas-ta-classic {version('pandas-ta-classic')} (`talib=False`, pandas/NumPy)"
    body = f"""
{N_BARS:,} synthetic 1-minute bars (`synthetic_bars(seed=0)`, generated in {generate_seconds:.2f} s).
Median of {REPEATS} runs each, same process, same bars. The machine is shared: 1-minute load
average {load:.1f} on {os.cpu_count()} cores when the run started, so absolute times are noisy; the ratio is
the figure to read.

| implementation | 12 features | ratio |
|---|---|---|
| {ours_label} | {ours_seconds:.3f} s | 1.0 |
| {theirs_label} | {theirs_seconds:.3f} s | {theirs_seconds / ours_seconds:.1f}x slower |

Agreement after bar {settle:,}: largest absolute difference per feature, in units of that
feature's standard deviation (both sides seed EMA/RSI/ATR the TA-Lib way, so all should agree to rounding):
{", ".join(f"`{k}` {v:.1e}" for k, v in worst.items())}.
Warm-up rows with a NaN in the stagewise output: {nan_rows} (= `WARMUP_BARS`).

pandas-ta (the original package) does not install on this Python 3.11: its only releases on PyPI,
0.4.67b0 and 0.4.71b0, require Python >= 3.12, so the `bench` extra uses `pandas-ta-classic`, the
maintained continuation of the same code.
"""
    write_section("features", "python bench/run.py features", body)


if __name__ == "__main__":
    main()
