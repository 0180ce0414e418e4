"""Reading bars: CSV/Parquet files in common spellings, and the real bars bundled with ``backtesting``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError, DataValidationError, NotFoundError
from stagewise.data.markets.gaps import GapPolicy, Session
from stagewise.data.markets.schema import BAR_COLUMNS, validate_bars

__all__ = ["BUNDLED_BARS", "COLUMNS_MAPPED_ATTR", "bundled_bars", "load_bars"]

logger = logging.getLogger("stagewise.data")

#: Bundled real bars: name -> (description, file name inside ``backtesting.test``).
BUNDLED_BARS: dict[str, str] = {
    "BTCUSD": "Bitcoin/USD, monthly bars 2012-01 to 2024-12 (156 bars)",
    "EURUSD": "Euro/US dollar, hourly bars 2017-04-19 to 2018-02-07 (5,000 bars)",
    "GOOG": "Alphabet (Google) shares, daily bars 2004-08-19 to 2013-03-01 (2,148 bars)",
}

#: Key of ``DataFrame.attrs`` where :func:`load_bars` records which source columns it renamed.
COLUMNS_MAPPED_ATTR = "stagewise_columns_mapped"

_TIME_NAMES = ("timestamp", "datetime", "date", "time", "date_time", "gmt time", "unnamed: 0", "")
_ALIASES = {
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c", "last", "price"),
    "volume": ("volume", "vol", "v"),
}
_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


def _read(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if not name.endswith(_SUFFIXES):
        raise ConfigError(
            f"Cannot read bars from {str(path)!r}: accepted file types are {', '.join(_SUFFIXES)}."
        )
    if not path.is_file():
        raise NotFoundError(f"Bars file not found: {str(path)!r}.")
    if name.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    return pd.read_csv(path)


def _rename_columns(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    lookup: dict[str, list[str]] = {}
    for column in raw.columns:
        lookup.setdefault(str(column).strip().lower(), []).append(str(column))
    mapping: dict[str, str] = {}
    for canonical, aliases in _ALIASES.items():
        found = [source for alias in aliases for source in lookup.get(alias, [])]
        if not found:
            spellings = ", ".join(repr(a) for a in aliases)
            raise DataValidationError(
                f"bars: missing column {canonical!r}; found columns {[str(c) for c in raw.columns]}. "
                f"Accepted spellings (any capitalisation): {spellings}."
            )
        if len(found) > 1:
            raise DataValidationError(
                f"bars: column {canonical!r} is ambiguous: {found} all match; keep exactly one of them."
            )
        mapping[found[0]] = canonical
    return raw.rename(columns=mapping), {k: v for k, v in mapping.items() if k != v}


def _set_time_index(frame: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    if isinstance(frame.index, pd.DatetimeIndex):
        if frame.index.name not in (None, "timestamp"):
            mapping[str(frame.index.name)] = "timestamp"
        return frame.rename_axis("timestamp")
    candidates = [c for c in frame.columns if str(c).strip().lower() in _TIME_NAMES]
    if not candidates:
        raise DataValidationError(
            f"bars: missing column 'timestamp'; found columns {[str(c) for c in frame.columns]}. "
            "Accepted: a DatetimeIndex, or a column named timestamp, datetime, date or time "
            "(any capitalisation), or the unnamed first column pandas writes for an index."
        )
    if len(candidates) > 1:
        raise DataValidationError(
            f"bars: column 'timestamp' is ambiguous: {[str(c) for c in candidates]} all match; keep one."
        )
    source = candidates[0]
    raw = frame[source]
    parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        position = int(np.argmax(bad))
        raise DataValidationError(
            f"bars: column {str(source)!r} is not a date/time at row {position} "
            f"(value {raw.iloc[position]!r}); accepted: ISO 8601 such as '2024-01-31 13:00:00'."
        )
    if str(source) != "timestamp":
        mapping[str(source)] = "timestamp"
    return frame.drop(columns=[source]).set_index(pd.DatetimeIndex(parsed, name="timestamp"))


def load_bars(
    path: str | Path,
    gaps: GapPolicy = "error",
    *,
    freq: str | pd.Timedelta | None = None,
    session: Session = "auto",
) -> pd.DataFrame:
    """Read bars from a CSV or Parquet file, map common column spellings and validate them.

    Accepted spellings, in any capitalisation: ``Open/High/Low/Close/Volume`` (as written by
    backtesting.py), ``o/h/l/c/v``, ``vol``, ``last``/``price`` for close; the time comes from a
    DatetimeIndex (Parquet), or a column named ``timestamp``, ``datetime``, ``date``, ``time``, or
    the unnamed first column that ``DataFrame.to_csv`` writes for an index. Renamed columns are
    logged on the ``stagewise.data`` logger and recorded in ``df.attrs["stagewise_columns_mapped"]``
    (source name -> canonical name). Other columns are dropped.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.csv.gz``, ``.parquet`` or ``.pq`` file.
    gaps, freq, session
        As in :func:`~stagewise.data.markets.validate_bars`.

    Returns
    -------
    DataFrame
        Validated bars in the canonical schema.

    Raises
    ------
    NotFoundError
        The file does not exist.
    ConfigError
        The file type is not one of the accepted ones.
    DataValidationError
        A column is missing (named, with the accepted spellings) or a value breaks the schema.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from stagewise.data import bundled_bars
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "eurusd.csv"
    >>> bundled_bars("EURUSD").rename(columns=str.capitalize).to_csv(path)
    >>> bars = load_bars(path)
    >>> len(bars), bars.attrs["stagewise_columns_mapped"]["Close"]
    (5000, 'close')
    """
    source = Path(path)
    frame, mapping = _rename_columns(_read(source))
    frame = _set_time_index(frame, mapping)
    bars = validate_bars(frame[list(BAR_COLUMNS)], gaps, freq=freq, session=session)
    if mapping:
        logger.info("load_bars %s: mapped columns %s", source, mapping)
    bars.attrs[COLUMNS_MAPPED_ATTR] = mapping
    return bars


def bundled_bars(name: str = "EURUSD", gaps: GapPolicy = "allow") -> pd.DataFrame:
    """Real market bars shipped inside the ``backtesting`` package (no network).

    ``"EURUSD"`` (hourly, 5,000 bars), ``"GOOG"`` (daily, 2,148 bars) and ``"BTCUSD"`` (monthly,
    156 bars) from ``backtesting.test``. EURUSD and BTCUSD have no gaps under the session rule
    (EURUSD's 42 weekend closures are excused). GOOG follows the New York exchange calendar, so its
    20 mid-week holidays (Thanksgiving, 4 July, Christmas, Hurricane Sandy...) are gaps on a
    weekday calendar: the default policy here is therefore ``"allow"``; pass ``gaps="error"`` to
    be strict or ``"ffill"`` to fill them.

    Parameters
    ----------
    name : {"EURUSD", "GOOG", "BTCUSD"}
        Which series (case-insensitive).
    gaps : {"error", "allow", "ffill"}
        Gap policy, as in :func:`~stagewise.data.markets.validate_bars`.

    Returns
    -------
    DataFrame
        Validated bars in the canonical schema.

    Raises
    ------
    NotFoundError
        For an unknown name, listing the accepted ones.

    Examples
    --------
    >>> bars = bundled_bars("EURUSD")
    >>> len(bars), list(bars.columns)
    (5000, ['open', 'high', 'low', 'close', 'volume'])
    """
    key = str(name).upper()
    if key not in BUNDLED_BARS:
        raise NotFoundError(f"No bundled bars named {name!r}; accepted: {', '.join(sorted(BUNDLED_BARS))}.")
    from backtesting import test as backtesting_test  # the package data, read from the installed wheel

    raw = getattr(backtesting_test, key)
    frame = raw.rename(columns=str.lower).rename_axis("timestamp")
    return validate_bars(frame, gaps)
