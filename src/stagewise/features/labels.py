"""Labels for market models: the direction of the close ``horizon`` bars ahead.

A label looks into the future **by design**: the label of bar t is known only at bar t + h. A
backtest must therefore *purge*: a training row at t carries information from the label period
(t, t + h], so it may be used to train a model tested from time T only if t + h < T, that is,
its label ends before the first test bar. :func:`label_end` gives that end for every row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError, DataValidationError

__all__ = ["label_end", "next_bar_direction"]


def _check(bars: object, horizon: object) -> tuple[pd.DataFrame, int]:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ConfigError(f"The 'horizon' parameter must be an int >= 1. Got {horizon!r}.")
    if not isinstance(bars, pd.DataFrame) or "close" not in bars.columns:
        got = list(bars.columns) if isinstance(bars, pd.DataFrame) else type(bars).__name__
        raise DataValidationError(
            f"Labels need bars with a 'close' column (see stagewise.data.load_bars). Got {got!r}."
        )
    return bars, int(horizon)


def next_bar_direction(bars: pd.DataFrame, horizon: int = 1) -> pd.Series:
    """1 if the close ``horizon`` bars ahead is higher than this one, else 0; NaN for the last ``horizon``.

    An unchanged close is 0 (not up). The label of bar t uses ``close[t + horizon]``: it is the
    future by design. Purge training rows whose label period (t, t + horizon] reaches into the
    test window (see :func:`label_end` and ``docs/features.md``).

    Parameters
    ----------
    bars : DataFrame
        Bars with a ``close`` column, in time order.
    horizon : int
        Bars ahead, >= 1.

    Returns
    -------
    Series
        float64 (0.0, 1.0 or NaN), same index, named ``"next_bar_direction"``.

    Examples
    --------
    >>> import pandas as pd
    >>> bars = pd.DataFrame({"close": [1.0, 2.0, 2.0, 1.0]})
    >>> next_bar_direction(bars).tolist()
    [1.0, 0.0, 0.0, nan]
    >>> next_bar_direction(bars, horizon=2).tolist()
    [1.0, 0.0, nan, nan]
    """
    frame, h = _check(bars, horizon)
    close = frame["close"].to_numpy(dtype="float64")
    label = np.full(close.shape, np.nan)
    if close.size > h:
        label[:-h] = (close[h:] > close[:-h]).astype("float64")
    return pd.Series(label, index=frame.index, name="next_bar_direction")


def label_end(bars: pd.DataFrame, horizon: int = 1) -> pd.Series:
    """When each row's label becomes known: the timestamp ``horizon`` bars later (NaT for the last ones).

    A row at t whose ``label_end`` is at or after the first test timestamp must not be trained on.

    Parameters
    ----------
    bars : DataFrame
        Bars with a DatetimeIndex and a ``close`` column.
    horizon : int
        As in :func:`next_bar_direction`.

    Returns
    -------
    Series
        datetime64, same index, named ``"label_end"``.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=3, freq="1h", name="timestamp")
    >>> label_end(pd.DataFrame({"close": [1.0, 2.0, 3.0]}, index=idx)).iloc[0]
    Timestamp('2024-01-01 01:00:00')
    """
    frame, h = _check(bars, horizon)
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataValidationError(f"label_end needs a DatetimeIndex. Got {type(frame.index).__name__}.")
    ends = pd.Series(frame.index, index=frame.index, name="label_end").shift(-h)
    return ends
