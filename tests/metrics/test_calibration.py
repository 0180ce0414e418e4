"""Calibration metrics and calibrators on a simulated year, where the true probabilities are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stagewise._exceptions import ConfigError, NotFittedError, UnsupportedFormatError
from stagewise.data import simulate_races
from stagewise.metrics.bootstrap import day_block_bootstrap_mean
from stagewise.metrics.calibration import calibration_report
from stagewise.models.calibration import ProbabilityCalibrator


@pytest.fixture(scope="module")
def year() -> pd.DataFrame:
    return simulate_races("2025-01-01", "2025-12-31", seed=0)


def _sharpen(p: np.ndarray, power: float = 2.0) -> np.ndarray:
    grid = p.reshape(-1, 6) ** power
    return (grid / grid.sum(axis=1, keepdims=True)).ravel()


def _race_log_loss(p: np.ndarray, won: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(p[won], 1e-15, 1.0))


def test_the_oracle_is_calibrated_within_noise(year: pd.DataFrame) -> None:
    won = year["finish_position"].eq(1).fillna(False).to_numpy(dtype=float)
    report = calibration_report(year["true_win_prob"].to_numpy(), won, year["race_id"].to_numpy())
    low, high = report.ece_excess_interval
    assert low <= 0.0 <= high
    assert report.ece < 0.005
    # Brier ≈ reliability − resolution + uncertainty (up to the spread within bins)
    assert report.brier == pytest.approx(
        report.reliability - report.resolution + report.uncertainty, abs=2e-3
    )


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_fitted_on_the_past_removes_over_confidence(year: pd.DataFrame, method: str) -> None:
    won = year["finish_position"].eq(1).fillna(False).to_numpy()
    sharp = _sharpen(year["true_win_prob"].to_numpy())
    past = (year["race_date"] < "2025-07-01").to_numpy()
    future = ~past
    calibrator = ProbabilityCalibrator(method).fit(sharp[past], won[past])
    fixed = calibrator.predict(sharp[future]).reshape(-1, 6)
    fixed = (fixed / fixed.sum(axis=1, keepdims=True)).ravel()
    groups = year["race_id"].to_numpy()[future]
    before = calibration_report(sharp[future], won[future].astype(float), groups)
    after = calibration_report(fixed, won[future].astype(float), groups)
    assert before.ece_excess_interval[0] > 0.03
    assert after.ece < before.ece / 3
    # log-loss never worse beyond its interval (paired per race, days resampled)
    diff = _race_log_loss(fixed, won[future]) - _race_log_loss(sharp[future], won[future])
    days = year["race_date"].to_numpy()[future][won[future]]
    low, _ = day_block_bootstrap_mean(diff, days)
    assert low <= 0.0


def test_calibrator_round_trips_without_pickle() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(3000)
    y = rng.random(3000) < p**0.5
    for method in ("isotonic", "platt"):
        cal = ProbabilityCalibrator(method).fit(p, y)
        again = ProbabilityCalibrator.from_dict(cal.to_dict())
        np.testing.assert_allclose(again.predict(p), cal.predict(p))
    with pytest.raises(UnsupportedFormatError, match="format_version 99"):
        ProbabilityCalibrator.from_dict({**cal.to_dict(), "format_version": 99})
    with pytest.raises(NotFittedError):
        ProbabilityCalibrator().predict(p)
    with pytest.raises(ConfigError, match="'calibration' parameter must be one of"):
        ProbabilityCalibrator("beta").fit(p, y)


def test_isotonic_matches_scikit_learn() -> None:
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(2)
    p = rng.random(2000)
    y = rng.random(2000) < p**2
    ours = ProbabilityCalibrator("isotonic").fit(p, y).predict(p)
    theirs = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p, y).predict(p)
    np.testing.assert_allclose(ours, theirs)
