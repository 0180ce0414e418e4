"""CalibratedFlavour: any flavour plus its calibrator, stored without pickle, loaded identically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from stagewise import ArtifactError, ConfigError, UnsupportedFormatError
from stagewise.metrics.calibration import calibration_report
from stagewise.models import CalibratedFlavour, LightGBMFlavour, ModelRegistry, SklearnFlavour
from stagewise.models.calibration import ProbabilityCalibrator
from stagewise.models.flavours import dump_version, load_version


def _data(n_days: int = 40, per_day: int = 100, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, Any]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n_days * per_day), "b": rng.normal(size=n_days * per_day)})
    p = 1 / (1 + np.exp(-(1.5 * X["a"] - X["b"])))
    y = (rng.random(len(X)) < p).astype(int)
    days = pd.date_range("2025-01-01", periods=n_days).repeat(per_day)
    return X, y.to_numpy(), days


class _Sharpened(LogisticRegression):
    """A logistic regression whose probabilities are over-confident (logit times 3)."""

    def predict_proba(self, X: Any) -> np.ndarray:
        z = 3.0 * self.decision_function(X)
        p = 1 / (1 + np.exp(-z))
        return np.column_stack([1 - p, p])


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_round_trip_through_the_registry_gives_identical_probabilities(tmp_path: Path, method: str) -> None:
    X, y, days = _data()
    model = CalibratedFlavour(SklearnFlavour(LogisticRegression()), method).fit(X, y, timestamps=days)
    registry = ModelRegistry(tmp_path / "models")
    version = registry.save(model)
    loaded = registry.load_flavour(version)
    assert isinstance(loaded, CalibratedFlavour)
    assert loaded.calibrator_.method == method
    assert loaded.signature_ == model.signature_
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    files = sorted(p.name for p in (tmp_path / "models" / "training" / version).iterdir())
    assert "calibrator.json" in files
    assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in files)


def test_calibrator_is_fitted_on_the_last_days_and_removes_overconfidence() -> None:
    X, y, days = _data(n_days=60)
    train, test = days < pd.Timestamp("2025-02-15"), days >= pd.Timestamp("2025-02-15")
    raw = SklearnFlavour(_Sharpened()).fit(X[train], y[train])
    model = CalibratedFlavour(SklearnFlavour(_Sharpened()), "isotonic").fit(
        X[train], y[train], timestamps=days[train]
    )
    before = calibration_report(raw.predict_proba(X[test])[:, 1], y[test])
    after = calibration_report(model.predict_proba(X[test])[:, 1], y[test])
    assert before.ece_excess_interval[0] > 0.03
    assert after.ece < before.ece / 2
    # the holdout is the window's last 20 % of days: the calibrator's map was learnt on 9 of 45 days
    hold = days[train] >= pd.Timestamp("2025-02-06")
    refit = ProbabilityCalibrator("isotonic").fit(
        model.base_.predict_proba(X[train][hold])[:, 1], y[train][hold]
    )
    np.testing.assert_array_equal(
        refit.predict(np.linspace(0, 1, 11)), model.calibrator_.predict(np.linspace(0, 1, 11))
    )


def test_a_tampered_or_newer_calibrator_file_is_refused() -> None:
    X, y, days = _data(n_days=10)
    lightgbm = LightGBMFlavour({"n_estimators": 6, "num_leaves": 7, "min_child_samples": 5})
    model = CalibratedFlavour(lightgbm, "platt").fit(X, y, timestamps=days)
    files = dump_version(model)  # no skops file: loadable without a manifest
    assert load_version(files).predict_proba(X[:5]).shape == (5, 2)
    newer = dict(files)
    body = json.loads(files["calibrator.json"])
    newer["calibrator.json"] = json.dumps({**body, "format_version": 99}).encode()
    with pytest.raises(UnsupportedFormatError, match="format_version 99"):
        load_version(newer)
    broken = {**files, "calibrator.json": b"not json"}
    with pytest.raises(ArtifactError, match=r"calibrator\.json: not valid JSON"):
        load_version(broken)
    missing = {k: v for k, v in files.items() if k != "calibrator.json"}
    with pytest.raises(ArtifactError, match=r"calibrator\.json"):
        load_version(missing)


def test_bad_inputs_name_the_parameter() -> None:
    X, y, days = _data(n_days=3)
    with pytest.raises(ConfigError, match=r"'method'.*'sigmoid'"):
        CalibratedFlavour(SklearnFlavour(LogisticRegression()), "sigmoid").fit(X, y, timestamps=days)
    one_day = pd.DatetimeIndex([days[0]] * len(X))
    with pytest.raises(ConfigError, match="one day only"):
        CalibratedFlavour(SklearnFlavour(LogisticRegression())).fit(X, y, timestamps=one_day)
    with pytest.raises(ConfigError, match="calibration_fraction"):
        CalibratedFlavour(SklearnFlavour(LogisticRegression()), calibration_fraction=1.5).fit(
            X, y, timestamps=days
        )
