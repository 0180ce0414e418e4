"""Features: technical indicators for market bars (TA-Lib) and labels."""

from __future__ import annotations

from stagewise.features.labels import label_end, next_bar_direction
from stagewise.features.technical import FEATURE_NAMES, WARMUP_BARS, TechnicalIndicators, drop_warmup

__all__ = [
    "FEATURE_NAMES",
    "WARMUP_BARS",
    "TechnicalIndicators",
    "drop_warmup",
    "label_end",
    "next_bar_direction",
]
