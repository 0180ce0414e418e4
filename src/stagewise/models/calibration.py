"""Probability calibration fitted on a time-ordered holdout: isotonic or Platt, stored without pickle.

A classifier's scores can rank well and still be wrong as probabilities (boosted trees and
forests are often over- or under-confident). :class:`ProbabilityCalibrator` learns a monotone
map from raw probability to calibrated probability on rows the model was *not* fitted on:

* ``"isotonic"`` — :class:`sklearn.isotonic.IsotonicRegression` (a non-decreasing step-linear
  map; flexible, needs a few hundred rows);
* ``"platt"`` — Platt scaling, a logistic regression on ``logit(p)``
  (:class:`sklearn.linear_model.LogisticRegression`; two numbers, robust on small holdouts).

The fitted map is a handful of numbers, written as JSON with a ``format_version``
(:meth:`ProbabilityCalibrator.to_dict`) and applied with numpy alone (``np.interp`` for
isotonic, a logistic for Platt), so it is stored beside a model without any pickle.
:func:`calibration_holdout` picks the holdout inside a training window: its last days.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from stagewise._exceptions import ConfigError, NotFittedError, UnsupportedFormatError

__all__ = [
    "CALIBRATION_FRACTION",
    "CALIBRATION_METHODS",
    "CALIBRATOR_FORMAT_VERSION",
    "ProbabilityCalibrator",
    "calibration_holdout",
]

FloatArray = npt.NDArray[np.float64]
CALIBRATION_METHODS: tuple[str, ...] = ("isotonic", "platt")
#: Version of the calibrator's JSON. Bump it when the fields change and keep a reader for the old one.
CALIBRATOR_FORMAT_VERSION = 1
#: The share of a training window's days (its last ones) a calibrator is fitted on, unless told otherwise:
#: the default of the walk-forward, of training, of the calibrated flavour and of the search.
CALIBRATION_FRACTION = 0.2
_EPS = 1e-6


def _logit(p: FloatArray) -> FloatArray:
    q = np.clip(p, _EPS, 1 - _EPS)
    out: FloatArray = np.log(q / (1 - q))
    return out


class ProbabilityCalibrator:
    """A monotone map from a model's probability to a calibrated probability.

    Parameters
    ----------
    method : {"isotonic", "platt"}

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> true = rng.random(5000)
    >>> raw = true ** 3  # an under-confident score of the same ranking
    >>> won = rng.random(5000) < true
    >>> cal = ProbabilityCalibrator("isotonic").fit(raw, won)
    >>> round(float(np.mean(cal.predict(raw)) - np.mean(won)), 3)
    0.0
    >>> ProbabilityCalibrator.from_dict(cal.to_dict()).predict(np.array([0.125])).round(1).tolist()
    [0.5]
    """

    def __init__(self, method: str = "isotonic") -> None:
        self.method = method

    def fit(self, probabilities: Any, outcomes: Any) -> ProbabilityCalibrator:
        """Learn the map on holdout probabilities and their 0/1 outcomes."""
        if self.method not in CALIBRATION_METHODS:
            raise ConfigError(
                f"The 'calibration' parameter must be one of {list(CALIBRATION_METHODS)!r} or None. "
                f"Got {self.method!r} instead."
            )
        p = np.asarray(probabilities, dtype=np.float64)
        y = np.asarray(outcomes, dtype=np.float64)
        if len(np.unique(y)) < 2:
            # One outcome only: nothing to learn a map from; keep the model's probabilities.
            self.x_, self.y_ = np.array([0.0, 1.0]), np.array([0.0, 1.0])
            self.coef_, self.intercept_ = 1.0, 0.0
            self.identity_ = True
            return self
        self.identity_ = False
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
            self.x_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.y_ = np.asarray(iso.y_thresholds_, dtype=np.float64)
        else:
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1e6).fit(_logit(p).reshape(-1, 1), y)
            self.coef_ = float(lr.coef_[0, 0])
            self.intercept_ = float(lr.intercept_[0])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "identity_"):
            raise NotFittedError(
                "This ProbabilityCalibrator is not fitted yet: call fit(probabilities, outcomes)."
            )

    def predict(self, probabilities: Any) -> FloatArray:
        """Calibrated probabilities (numpy only, the same as the scikit-learn model's)."""
        self._check_fitted()
        p = np.asarray(probabilities, dtype=np.float64)
        if self.identity_:
            return p.copy()
        if self.method == "isotonic":
            out: FloatArray = np.interp(p, self.x_, self.y_)
            return out
        z = self.coef_ * _logit(p) + self.intercept_
        result: FloatArray = 1.0 / (1.0 + np.exp(-z))
        return result

    def to_dict(self) -> dict[str, Any]:
        """The fitted map as JSON-ready values with ``format_version``."""
        self._check_fitted()
        out: dict[str, Any] = {
            "format_version": CALIBRATOR_FORMAT_VERSION,
            "kind": "probability_calibrator",
            "method": self.method,
            "identity": self.identity_,
        }
        if self.method == "isotonic":
            out["x"] = self.x_.tolist()
            out["y"] = self.y_.tolist()
        else:
            out["coef"] = self.coef_
            out["intercept"] = self.intercept_
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbabilityCalibrator:
        """Rebuild a fitted calibrator from :meth:`to_dict` output (format version 1)."""
        version = data.get("format_version")
        if version != CALIBRATOR_FORMAT_VERSION or data.get("kind") != "probability_calibrator":
            raise UnsupportedFormatError(
                f"Calibrator format_version {version!r} (kind {data.get('kind')!r}) is not readable; "
                f"this release reads version {CALIBRATOR_FORMAT_VERSION}."
            )
        cal = cls(str(data["method"]))
        cal.identity_ = bool(data["identity"])
        if cal.method == "isotonic":
            cal.x_ = np.asarray(data.get("x", [0.0, 1.0]), dtype=np.float64)
            cal.y_ = np.asarray(data.get("y", [0.0, 1.0]), dtype=np.float64)
        else:
            cal.coef_ = float(data.get("coef", 1.0))
            cal.intercept_ = float(data.get("intercept", 0.0))
        return cal


def calibration_holdout(timestamps: Any, fraction: float = CALIBRATION_FRACTION) -> npt.NDArray[np.bool_]:
    """Mask of a training window's calibration holdout: its last whole days.

    The holdout is the latest ``ceil(fraction · days)`` days of the window (at least one, never
    all of them), so the model is fitted on the earlier days and the calibrator on later ones,
    as it will be used: on days after the model's. Rows of one day stay together.

    Examples
    --------
    >>> import pandas as pd
    >>> days = pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"])
    >>> calibration_holdout(days, 0.25).tolist()
    [False, False, False, False, True]
    """
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0.0 < fraction < 1.0:
        raise ConfigError(
            f"The 'calibration_fraction' parameter must be a number in (0, 1). Got {fraction!r} instead."
        )
    day = pd.DatetimeIndex(pd.to_datetime(np.asarray(timestamps))).normalize()
    unique = np.unique(day.to_numpy())
    if len(unique) < 2:
        return np.zeros(len(day), dtype=bool)
    n_hold = min(len(unique) - 1, max(1, math.ceil(fraction * len(unique))))
    first_held = unique[len(unique) - n_hold]
    out: npt.NDArray[np.bool_] = day.to_numpy() >= first_held
    return out
