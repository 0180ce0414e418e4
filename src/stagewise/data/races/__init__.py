"""Race data: the schema, loaders and validation, and the calibrated race simulator."""

from __future__ import annotations

from stagewise.data.races.calibration import CalibrationFigures, calibration_figures
from stagewise.data.races.io import load_races, race_results, save_races
from stagewise.data.races.model import RaceModel
from stagewise.data.races.schema import (
    FINISHED,
    NON_FINISH_STATUSES,
    RACE_COLUMNS,
    RACER_CLASSES,
    REQUIRED_COLUMNS,
    STATUS_MEANINGS,
)
from stagewise.data.races.simulator import RaceSimulator, simulate_races
from stagewise.data.races.validation import validate_races

__all__ = [
    "FINISHED",
    "NON_FINISH_STATUSES",
    "RACER_CLASSES",
    "RACE_COLUMNS",
    "REQUIRED_COLUMNS",
    "STATUS_MEANINGS",
    "CalibrationFigures",
    "RaceModel",
    "RaceSimulator",
    "calibration_figures",
    "load_races",
    "race_results",
    "save_races",
    "simulate_races",
    "validate_races",
]
