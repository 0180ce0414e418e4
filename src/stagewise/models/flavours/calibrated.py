"""A flavour with its probability calibrator: any model plus an isotonic or Platt map, stored as one version.

The base model's files go under the prefix ``base.`` (any flavour, nested like a blend's members) and the
calibrator's fitted map into ``calibrator.json`` (:meth:`ProbabilityCalibrator.to_dict`, with its own
``format_version``; no pickle). Loading checks both formats: an unknown flavour, a missing file, a
calibrator file that is not JSON or has another format version is refused, nothing half-loaded.

:meth:`CalibratedFlavour.fit` does what the walk-forward backtest does in each step: the base model is
fitted on the training window's earlier days and the calibrator on its last days
(:func:`~stagewise.models.calibration.calibration_holdout`), never on rows it will score.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from stagewise._exceptions import ArtifactError, ConfigError
from stagewise.models.calibration import (
    CALIBRATION_FRACTION,
    CALIBRATION_METHODS,
    ProbabilityCalibrator,
    calibration_holdout,
)
from stagewise.models.flavours._base import Flavour, FlavourFiles, load_entry, pack_entry, register_flavour
from stagewise.models.flavours._common import check_fitted
from stagewise.models.flavours.signature import InputSignature

__all__ = ["CALIBRATOR_FILE", "CalibratedFlavour", "calibration_method_in"]

CALIBRATOR_FILE = "calibrator.json"
_PREFIX = "base."


@register_flavour
class CalibratedFlavour:
    """Any flavour whose P(positive) goes through a fitted :class:`ProbabilityCalibrator`.

    Parameters
    ----------
    base : Flavour or a supported model
        Unfitted (fitted by :meth:`fit`) or fitted (use :meth:`from_parts`).
    method : {"isotonic", "platt"}
        The calibration map :meth:`fit` learns.
    calibration_fraction : float in (0, 1)
        Share of the training window's days, the latest, held out for the calibrator.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from stagewise.models import SklearnFlavour
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=600)})
    >>> y = (rng.random(600) < 1 / (1 + np.exp(-2 * X["x"]))).astype(int)
    >>> days = pd.date_range("2025-01-01", periods=30).repeat(20)
    >>> model = CalibratedFlavour(SklearnFlavour(LogisticRegression()), "platt").fit(X, y, timestamps=days)
    >>> model.calibrator_.method, model.predict_proba(X[:2]).shape
    ('platt', (2, 2))
    """

    name: ClassVar[str] = "calibrated"
    signature_: InputSignature

    def __init__(
        self, base: Any = None, method: str = "isotonic", calibration_fraction: float = CALIBRATION_FRACTION
    ) -> None:
        self.base = base
        self.method = method
        self.calibration_fraction = calibration_fraction

    def fit(self, X: Any, y: Any, *, timestamps: Any, purge: int = 0) -> CalibratedFlavour:
        """Fit the base model on the window's earlier days and the calibrator on its last days.

        ``purge`` rows just before the holdout (rows in time order) are left out of the base model's
        fit: a market label ``horizon`` bars ahead reaches into the holdout, as the held-out test does.
        """
        if self.base is None:
            raise ConfigError("CalibratedFlavour needs a 'base' model to fit; got None.")
        if self.method not in CALIBRATION_METHODS:
            raise ConfigError(
                f"The 'method' parameter must be one of {list(CALIBRATION_METHODS)!r}. Got {self.method!r}."
            )
        holdout = calibration_holdout(timestamps, self.calibration_fraction)
        if len(holdout) != len(y):
            raise ConfigError(
                f"The 'timestamps' must have one value per training row ({len(y)}); got {len(holdout)}."
            )
        if not holdout.any():
            raise ConfigError(
                "The training window spans one day only; the calibrator needs later days than the "
                "model's ('timestamps' must cover at least two days)."
            )
        if isinstance(purge, bool) or not isinstance(purge, int) or purge < 0:
            raise ConfigError(f"The 'purge' parameter must be an int >= 0. Got {purge!r}.")
        fit_rows = ~holdout
        first_held = int(np.argmax(holdout))
        fit_rows[max(0, first_held - purge) : first_held] = False
        y_arr = np.asarray(y)
        rows = X.iloc if hasattr(X, "iloc") else X
        from stagewise.models.flavours.store import as_flavour

        base = copy.deepcopy(self.base)
        base = base.fit(rows[fit_rows], y_arr[fit_rows])
        fitted = as_flavour(base)
        calibrator = ProbabilityCalibrator(self.method).fit(
            fitted.predict_proba(rows[holdout])[:, 1], y_arr[holdout]
        )
        return self._set(fitted, calibrator)

    @classmethod
    def from_parts(cls, base: Any, calibrator: ProbabilityCalibrator) -> CalibratedFlavour:
        """Wrap a fitted model and a fitted calibrator (e.g. a backtest step's)."""
        from stagewise.models.flavours.store import as_flavour

        calibrator._check_fitted()
        return cls(base, calibrator.method)._set(as_flavour(base), calibrator)

    def _set(self, base: Flavour, calibrator: ProbabilityCalibrator) -> CalibratedFlavour:
        self.base_ = base
        self.calibrator_ = calibrator
        self.signature_ = base.signature_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """The base model's P(positive) through the calibrator, as ``(n, 2)``."""
        check_fitted(self, "base_")
        positive = np.clip(self.calibrator_.predict(self.base_.predict_proba(X)[:, 1]), 0.0, 1.0)
        return np.column_stack([1.0 - positive, positive])

    def to_files(self) -> FlavourFiles:
        check_fitted(self, "base_")
        files, entry = pack_entry(self.base_, _PREFIX)
        if CALIBRATOR_FILE in files:
            raise ArtifactError(f"The base model may not write a file named {CALIBRATOR_FILE}.")
        body = json.dumps(self.calibrator_.to_dict(), sort_keys=True, separators=(",", ":"))
        files[CALIBRATOR_FILE] = body.encode("utf-8")
        details = {"base": {**entry, "prefix": _PREFIX}, "calibrator": CALIBRATOR_FILE}
        # the method, for `stagewise models show` without reading the calibrator's file; loading ignores it
        details["method"] = self.calibrator_.method
        return FlavourFiles(files, details)

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], details: Mapping[str, Any]) -> CalibratedFlavour:
        entry = details.get("base")
        if not isinstance(entry, Mapping):
            raise ArtifactError("flavour.json: the calibrated model's 'base' entry is missing.")
        if CALIBRATOR_FILE not in files:
            raise ArtifactError(
                f"flavour.json: the calibrated model's {CALIBRATOR_FILE} is not in the version."
            )
        try:
            data = json.loads(files[CALIBRATOR_FILE].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"{CALIBRATOR_FILE}: not valid JSON ({exc}).") from None
        if not isinstance(data, dict):
            raise ArtifactError(f"{CALIBRATOR_FILE}: expected a JSON object.")
        calibrator = ProbabilityCalibrator.from_dict(data)
        base = load_entry(entry, files, str(entry.get("prefix", _PREFIX)))
        return cls(base, calibrator.method)._set(base, calibrator)


def calibration_method_in(entry: Any) -> str | None:
    """The calibration method of a ``flavour.json`` entry's calibrated part (nested anywhere), or None."""
    if isinstance(entry, Mapping):
        if entry.get("flavour") == "calibrated":
            details = entry.get("details")
            method = details.get("method") if isinstance(details, Mapping) else None
            return str(method) if method else "calibrated"  # written before the method was recorded
        for value in entry.values():
            found = calibration_method_in(value)
            if found is not None:
                return found
    elif isinstance(entry, list):
        for value in entry:
            found = calibration_method_in(value)
            if found is not None:
                return found
    return None
