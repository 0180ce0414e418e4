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
from stagewise.data.races import (
    FINISHED,
    NON_FINISH_STATUSES,
    RACE_COLUMNS,
    RACER_CLASSES,
    REQUIRED_COLUMNS,
    STATUS_MEANINGS,
    CalibrationFigures,
    RaceModel,
    RaceSimulator,
    calibration_figures,
    load_races,
    race_results,
    save_races,
    simulate_races,
    validate_races,
)

__all__ = [
    "BAR_COLUMNS",
    "BUNDLED_BARS",
    "FINISHED",
    "NON_FINISH_STATUSES",
    "RACER_CLASSES",
    "RACE_COLUMNS",
    "REQUIRED_COLUMNS",
    "STATUS_MEANINGS",
    "CalibrationFigures",
    "GapReport",
    "RaceModel",
    "RaceSimulator",
    "bundled_bars",
    "calibration_figures",
    "find_gaps",
    "load_bars",
    "load_races",
    "race_results",
    "save_races",
    "simulate_races",
    "synthetic_bars",
    "validate_bars",
    "validate_races",
]
