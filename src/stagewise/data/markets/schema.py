"""The bar schema and :func:`validate_bars`.

Bars are a DataFrame with a strictly increasing DatetimeIndex named ``timestamp`` and the float64
columns ``open, high, low, close, volume``. Every check names the timestamp, the column and the
value of the first row that breaks it, and how many rows do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from stagewise._exceptions import DataValidationError
from stagewise.data.markets.gaps import GAP_POLICIES, GapPolicy, Session, _check_choice, fill_gaps, find_gaps

__all__ = ["BAR_COLUMNS", "PRICE_COLUMNS", "validate_bars"]

BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")

_HOW_TO_FIX = "load files with stagewise.data.load_bars(), which maps spellings such as 'Open' or 'Date'"


def _fail(rule: str, mask: np.ndarray, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise for the first row where ``mask`` is True, quoting its timestamp and values."""
    count = int(mask.sum())
    if count == 0:
        return
    position = int(np.argmax(mask))
    values = ", ".join(f"{column}={frame[column].iloc[position].item()!r}" for column in columns)
    raise DataValidationError(
        f"bars: {rule} at timestamp {frame.index[position]} ({values}); {count} row(s) break this rule."
    )


def _check_index(frame: pd.DataFrame) -> pd.DatetimeIndex:
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        hint = " It has a 'timestamp' column: use df.set_index('timestamp')." if "timestamp" in frame else ""
        raise DataValidationError(
            f"bars: the index must be a DatetimeIndex named 'timestamp'. Got {type(index).__name__}.{hint} "
            f"Or {_HOW_TO_FIX}."
        )
    if index.hasnans:
        position = int(np.argmax(np.asarray(index.isna())))
        raise DataValidationError(f"bars: timestamp is missing (NaT) at row {position}; every bar needs one.")
    values = index.asi8
    steps = np.diff(values)
    if (steps == 0).any():
        position = int(np.argmax(steps == 0)) + 1
        raise DataValidationError(
            f"bars: duplicate timestamp {index[position]} (rows {position - 1} and {position}); "
            f"{int((steps == 0).sum())} duplicate(s). Timestamps must be unique and strictly increasing."
        )
    if (steps < 0).any():
        position = int(np.argmax(steps < 0)) + 1
        raise DataValidationError(
            f"bars: timestamps are not increasing: {index[position]} (row {position}) comes after "
            f"{index[position - 1]}; {int((steps < 0).sum())} step(s) go backwards. Sort the bars by time."
        )
    return index


def _bar_columns(frame: pd.DataFrame) -> dict[str, Any]:
    """Source column of each of the five bar columns, matched in any capitalisation (``Open``, ``CLOSE``)."""
    spellings: dict[str, list[Any]] = {}
    for column in frame.columns:
        spellings.setdefault(str(column).strip().lower(), []).append(column)
    found: dict[str, Any] = {}
    for name in BAR_COLUMNS:
        sources = spellings.get(name, [])
        if not sources:
            raise DataValidationError(
                f"bars: missing column {name!r} (have {[str(c) for c in frame.columns]}; "
                f"need {list(BAR_COLUMNS)} in any capitalisation). To map other spellings, {_HOW_TO_FIX}."
            )
        if len(sources) > 1:
            raise DataValidationError(
                f"bars: column {name!r} is given {len(sources)} times ({[str(c) for c in sources]}); "
                "keep exactly one of them."
            )
        found[name] = sources[0]
    return found


def _to_float(frame: pd.DataFrame) -> pd.DataFrame:
    sources = _bar_columns(frame)
    # One (5, n) block: building the frame from it costs no copy (a dict of columns would stack them).
    values = np.empty((len(BAR_COLUMNS), len(frame)))
    for row, column in enumerate(BAR_COLUMNS):
        series = frame[sources[column]]
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            values[row] = series.to_numpy(dtype="float64", na_value=np.nan)
            continue
        numeric = pd.to_numeric(series, errors="coerce")
        bad = numeric.isna().to_numpy() & series.notna().to_numpy()
        if bad.any():
            position = int(np.argmax(bad))
            raise DataValidationError(
                f"bars: column {column!r} is not numeric at timestamp {frame.index[position]} "
                f"(value {series.iloc[position]!r}); accepted: numbers."
            )
        values[row] = numeric.to_numpy(dtype="float64", na_value=np.nan)
    result = pd.DataFrame(values.T, index=frame.index.copy(), columns=list(BAR_COLUMNS), copy=False)
    result.index.name = "timestamp"
    return result


def _check_values(bars: pd.DataFrame) -> None:
    for column in BAR_COLUMNS:
        _fail(f"column {column!r} is NaN or infinite", ~np.isfinite(bars[column].to_numpy()), bars, [column])
    for column in PRICE_COLUMNS:
        _fail(f"column {column!r} must be a price > 0", bars[column].to_numpy() <= 0, bars, [column])
    high, low = bars["high"].to_numpy(), bars["low"].to_numpy()
    _fail("column 'high' is below 'low'", high < low, bars, ["high", "low"])
    for column in ("open", "close"):
        value = bars[column].to_numpy()
        _fail(f"column 'high' is below {column!r}", high < value, bars, ["high", column])
        _fail(f"column 'low' is above {column!r}", low > value, bars, ["low", column])
    _fail("column 'volume' must be >= 0", bars["volume"].to_numpy() < 0, bars, ["volume"])


def validate_bars(
    df: pd.DataFrame,
    gaps: GapPolicy = "error",
    *,
    freq: str | pd.Timedelta | None = None,
    session: Session = "auto",
) -> pd.DataFrame:
    """Check bars against the schema and return a clean copy in canonical form.

    Checks, in order: a DatetimeIndex without NaT, duplicates or backward steps; the five columns
    present and numeric; no NaN or infinity; prices > 0; ``low <= open, close <= high``; volume >= 0;
    then gaps (see :mod:`stagewise.data.markets.gaps` for the rule) under the chosen policy.

    Parameters
    ----------
    df : DataFrame
        Bars with a DatetimeIndex and columns open, high, low, close, volume in any
        capitalisation (``Open``/``High``/``Low``/``Close``/``Volume``, the common CSV header;
        other columns are dropped from the result).
    gaps : {"error", "allow", "ffill"}
        What to do with missing bars: raise with the first gap and the count, keep them, or
        insert flat bars (OHLC = previous close, volume 0).
    freq : str or Timedelta, optional
        Expected step (``"1h"``, ``"1D"``, ``"ME"``); inferred from the median step when omitted.
    session : {"auto", "continuous", "weekdays"}
        ``"weekdays"`` excuses weekend closures; ``"auto"`` picks it when no bar falls on a Saturday.

    Returns
    -------
    DataFrame
        Index ``timestamp`` (datetime64[ns]), float64 columns ``open, high, low, close, volume``.

    Raises
    ------
    DataValidationError
        Naming the timestamp, the column and the value of the first bad row.
    ConfigError
        For an unknown ``gaps``, ``session`` or ``freq``.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=3, freq="1h", name="timestamp")
    >>> bars = pd.DataFrame({"open": [1.0, 1.1, 1.2], "high": [1.2, 1.3, 1.4], "low": [0.9, 1.0, 1.1],
    ...                      "close": [1.1, 1.2, 1.3], "volume": [10, 12, 9]}, index=idx)
    >>> validate_bars(bars).dtypes.unique().tolist()
    [dtype('float64')]
    >>> validate_bars(bars.drop(idx[1]), freq="1h")
    Traceback (most recent call last):
    ...
    stagewise._exceptions.DataValidationError: bars: first gap between 2024-01-01 00:00:00 and ...
    """
    _check_choice("gaps", gaps, GAP_POLICIES)
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(f"bars must be a pandas DataFrame. Got {type(df).__name__}.")
    index = _check_index(df)
    bars = _to_float(df)
    if index.unit != "ns":
        bars.index = index.as_unit("ns").rename("timestamp")
    _check_values(bars)
    if gaps == "allow":
        find_gaps(bars, freq=freq, session=session)  # still rejects a bad freq or session
        return bars
    if gaps == "ffill":
        return fill_gaps(bars, freq=freq, session=session)
    report = find_gaps(bars, freq=freq, session=session)
    if report.n_gaps:
        raise DataValidationError(
            f"bars: {report.describe_first()}. Choose gaps='allow' to keep them or gaps='ffill' to fill them."
        )
    return bars
