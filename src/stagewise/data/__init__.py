"""Data for both domains: race data sets and market bars (schemas, loaders, generators)."""

from __future__ import annotations

from stagewise.data.markets import (
    BAR_COLUMNS,
    BUNDLED_BARS,
    GapReport,
    bundled_bars,
    find_gaps,
    load_bars,
    synthetic_bars,
    validate_bars,
)

__all__ = [
    "BAR_COLUMNS",
    "BUNDLED_BARS",
    "GapReport",
    "bundled_bars",
    "find_gaps",
    "load_bars",
    "synthetic_bars",
    "validate_bars",
]
