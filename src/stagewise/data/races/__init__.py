"""Race data: the schema, loaders and validation, and the calibrated race simulator."""

from __future__ import annotations

from stagewise.data.races.calibration import CalibrationFigures, calibration_figures
from stagewise.data.races.io import load_races, race_results, save_races
from stagewise.data.races.model import RaceModel
from stagewise.data.races.odds import KYOTEI_PAYOUT_RATE, PublicModel, trifecta_odds
from stagewise.data.races.schema import (
    FINISHED,
    NON_FINISH_STATUSES,
    ODDS_COLUMNS,
    RACE_COLUMNS,
    RACER_CLASSES,
    REQUIRED_COLUMNS,
    STATUS_MEANINGS,
)
from stagewise.data.races.simulator import RaceSimulator, simulate_races
from stagewise.data.races.validation import validate_races

__all__ = [
    "FINISHED",
    "KYOTEI_PAYOUT_RATE",
    "NON_FINISH_STATUSES",
    "ODDS_COLUMNS",
    "RACER_CLASSES",
    "RACE_COLUMNS",
    "REQUIRED_COLUMNS",
    "STATUS_MEANINGS",
    "CalibrationFigures",
    "PublicModel",
    "RaceModel",
    "RaceSimulator",
    "calibration_figures",
    "load_races",
    "race_results",
    "save_races",
    "simulate_races",
    "trifecta_odds",
    "validate_races",
]
