"""``WalkForwardBacktest(calibration=...)``: fitted on the training window's last days, never on test rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from backtest_setup import SEED_WINDOWS
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from stagewise._exceptions import ConfigError
from stagewise.backtest import WalkForwardBacktest
from stagewise.backtest.windows import walk_forward_windows
from stagewise.models.calibration import ProbabilityCalibrator, calibration_holdout


class OverConfident(LinearDiscriminantAnalysis):
    """A linear discriminant whose probabilities are sharpened: p^3 / (p^3 + (1 − p)^3)."""

    def predict_proba(self, x: object) -> np.ndarray:
        p = super().predict_proba(x)[:, 1]
        sharp = p**3 / (p**3 + (1 - p) ** 3)
        return np.column_stack([1 - sharp, sharp])


def _model() -> OverConfident:
    return OverConfident()


@pytest.fixture(scope="module")
def calibrated(small_races: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("calibrated")
    bt = WalkForwardBacktest(
        data=small_races, model_factory=_model, n_workers=1, calibration="isotonic", places="win_order",
        n_resamples=300,
    )  # fmt: skip
    return bt.run_walkforward(**{**SEED_WINDOWS, "train_days": 14}, output_dir=out), out


def test_calibration_removes_the_over_confidence(calibrated: tuple[dict, Path]) -> None:
    result, _ = calibrated
    raw, cal = result["calibration"]["raw"], result["calibration"]["calibrated"]
    assert raw["ece_excess_ci"][0] > 0.02  # far beyond chance
    assert cal["ece"] < raw["ece"] / 2
    assert cal["brier_reliability"] < raw["brier_reliability"]
    # never worse on log-loss beyond its interval: the change's interval reaches zero or below
    assert result["calibration"]["log_loss_change"]["ci"][0] <= 0.0


def test_reports_carry_raw_and_calibrated(calibrated: tuple[dict, Path]) -> None:
    result, out = calibrated
    stored = json.loads((out / "walkforward_results.json").read_text(encoding="utf-8"))["calibration"]
    assert stored["method"] == "isotonic"
    assert len(stored["raw"]["reliability_curve"]["count"]) == 10
    assert len(stored["calibrators"]) == result["summary"]["total_steps"]
    assert ProbabilityCalibrator.from_dict(stored["calibrators"][0]).predict(np.array([0.5])).shape == (1,)
    text = (out / "walkforward_report.txt").read_text(encoding="utf-8")
    assert "[Calibration: isotonic" in text
    assert "log-loss change (calibrated − raw)" in text
    assert "Reliability curve" in (out / "walkforward_report.html").read_text(encoding="utf-8")


def test_bad_calibration_settings(small_races: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'calibration' parameter must be one of \\['isotonic', 'platt'\\]"):
        WalkForwardBacktest(data=small_races, calibration="beta").run_walkforward(
            **SEED_WINDOWS, output_dir=tmp_path
        )
    with pytest.raises(ConfigError, match="'calibration_fraction' parameter must be a number in \\(0, 1\\)"):
        WalkForwardBacktest(data=small_races, calibration="platt", calibration_fraction=1.0).run_walkforward(
            **SEED_WINDOWS, output_dir=tmp_path
        )
    assert not any(tmp_path.iterdir())


@settings(max_examples=60, deadline=None)
@given(
    n_days=st.integers(20, 60),
    per_day=st.integers(1, 4),
    train_days=st.integers(2, 15),
    test_days=st.integers(1, 5),
    gap_days=st.integers(0, 3),
    fraction=st.floats(0.05, 0.95),
)
def test_the_calibrator_never_sees_a_test_row(
    n_days: int, per_day: int, train_days: int, test_days: int, gap_days: int, fraction: float
) -> None:
    stamps = pd.date_range("2025-01-01", periods=n_days, freq="D").repeat(per_day)
    start = stamps[0] + pd.Timedelta(days=train_days + gap_days)
    if start > stamps[-1]:
        return
    for split in walk_forward_windows(
        stamps.to_numpy(), start, stamps[-1], train_days, test_days, test_days, gap_days=gap_days
    ):
        held = calibration_holdout(stamps[split.train], fraction)
        calibrator_rows = set(split.train[held].tolist())
        model_rows = set(split.train[~held].tolist())
        assert not calibrator_rows & set(split.test.tolist())
        assert not calibrator_rows & model_rows
        if calibrator_rows and model_rows:  # the holdout is the window's last days
            assert stamps[sorted(model_rows)].max() < stamps[sorted(calibrator_rows)].min()
