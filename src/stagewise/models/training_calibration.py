"""``stagewise train --calibration``: the trained ensemble wrapped with its probability calibrator.

The calibrator is fitted the way a walk-forward step fits it: the ensemble learns on the training
window's earlier days and the calibrator on its last ``calibration_fraction`` of days
(:func:`~stagewise.models.calibration.calibration_holdout`), never on a held-out (scoring) row. The
held-out period then shows the model's calibration raw and calibrated, and what is registered is the
:class:`~stagewise.models.CalibratedFlavour` the held-out scores were computed with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from stagewise._exceptions import ConfigError, DataValidationError
from stagewise.models.calibration import CALIBRATION_FRACTION, CALIBRATION_METHODS, calibration_holdout
from stagewise.models.ensemble import ProductionEnsemble
from stagewise.models.flavours.calibrated import CalibratedFlavour

__all__ = ["calibration_metrics", "check_calibration", "fit_calibrated_ensemble"]


def check_calibration(calibration: object, fraction: float = CALIBRATION_FRACTION) -> str | None:
    """``calibration`` (``"isotonic"``, ``"platt"`` or None) checked with its holdout fraction."""
    if calibration is not None and calibration not in CALIBRATION_METHODS:
        raise ConfigError(
            f"The 'calibration' parameter must be one of {list(CALIBRATION_METHODS)!r} or None. "
            f"Got {calibration!r}."
        )
    calibration_holdout([], fraction)  # validates the fraction
    return None if calibration is None else str(calibration)


def fit_calibrated_ensemble(
    model: ProductionEnsemble,
    X: pd.DataFrame,
    y: Any,
    *,
    timestamps: Any,
    method: str,
    fraction: float,
    purge: int = 0,
) -> tuple[ProductionEnsemble, CalibratedFlavour]:
    """The ensemble fitted on the window's earlier days and the flavour holding it with its calibrator."""
    if not calibration_holdout(timestamps, fraction).any():
        raise DataValidationError(
            "Too few training days to calibrate: the calibrator needs days after the model's, so the "
            "training part must span at least 2 days. Give a larger 'days' or leave out --calibration."
        )
    flavour = CalibratedFlavour(model, method, calibration_fraction=fraction).fit(
        X, y, timestamps=timestamps, purge=purge
    )
    fitted = getattr(flavour.base_, "model_", None)  # as_flavour(ProductionEnsemble) is an EnsembleFlavour
    if not isinstance(fitted, ProductionEnsemble):  # pragma: no cover - as_flavour's contract
        raise TypeError(f"expected the fitted ProductionEnsemble, got {type(fitted).__name__}")
    return fitted, flavour


def calibration_metrics(
    raw: npt.NDArray[np.float64],
    calibrated: npt.NDArray[np.float64],
    outcomes: npt.NDArray[np.float64],
    races: npt.NDArray[np.intp] | None = None,
) -> dict[str, float]:
    """Held-out ECE raw and calibrated (``calibration_ece_raw``, ``calibration_ece``) and the ECE interval.

    With ``races`` (a race code per boat) each race's win probabilities are first renormalised to sum
    to one, as the walk-forward reports them, and a race is one trial of the ECE's interval.
    """
    from stagewise.metrics.calibration import calibration_report

    if races is not None:
        raw, calibrated = _within_race(raw, races), _within_race(calibrated, races)
    before = calibration_report(raw, outcomes, races, n_draws=500)
    after = calibration_report(calibrated, outcomes, races, n_draws=500)
    return {
        "calibration_ece_raw": float(before.ece),
        "calibration_ece": float(after.ece),
        "calibration_ece_excess_low": float(after.ece_excess_interval[0]),
        "calibration_ece_excess_high": float(after.ece_excess_interval[1]),
    }


def _within_race(positive: npt.NDArray[np.float64], races: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
    totals = np.bincount(races, weights=positive)
    out: npt.NDArray[np.float64] = positive / np.where(totals > 0, totals, 1.0)[races]
    return out
