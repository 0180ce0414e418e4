"""Market bars: the OHLCV schema, validation with a gap policy, loaders, bundled real bars and a generator.

Bars are a DataFrame with a strictly increasing DatetimeIndex named ``timestamp`` and float64
columns ``open, high, low, close, volume``. See ``docs/data-markets.md``.
"""

from __future__ import annotations

from stagewise.data.markets.gaps import GAP_POLICIES, SESSIONS, GapReport, fill_gaps, find_gaps
from stagewise.data.markets.loaders import BUNDLED_BARS, COLUMNS_MAPPED_ATTR, bundled_bars, load_bars
from stagewise.data.markets.schema import BAR_COLUMNS, PRICE_COLUMNS, validate_bars
from stagewise.data.markets.synthetic import synthetic_bars

__all__ = [
    "BAR_COLUMNS",
    "BUNDLED_BARS",
    "COLUMNS_MAPPED_ATTR",
    "GAP_POLICIES",
    "PRICE_COLUMNS",
    "SESSIONS",
    "GapReport",
    "bundled_bars",
    "fill_gaps",
    "find_gaps",
    "load_bars",
    "synthetic_bars",
    "validate_bars",
]
