"""Features: technical indicators for market bars (TA-Lib), labels, and race entry features."""

from __future__ import annotations

from stagewise.features.labels import label_end, next_bar_direction
from stagewise.features.races import RACE_FEATURE_NAMES, race_entry_features
from stagewise.features.technical import FEATURE_NAMES, WARMUP_BARS, TechnicalIndicators, drop_warmup

__all__ = [
    "FEATURE_NAMES",
    "RACE_FEATURE_NAMES",
    "WARMUP_BARS",
    "TechnicalIndicators",
    "drop_warmup",
    "label_end",
    "next_bar_direction",
    "race_entry_features",
]
