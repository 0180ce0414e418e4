from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from backtest_setup import SMALL_MODEL

from stagewise.backtest import WalkForwardBacktest
from stagewise.features.technical import FEATURE_NAMES, TechnicalIndicators

EURUSD_WINDOWS = {
    "start_date": "2017-10-02",
    "end_date": "2017-11-12",
    "train_days": 60,
    "test_days": 7,
    "step_days": 7,
}


def peeking_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The seed's kind of leak: a 'feature' that knows the next bar's close."""
    features = TechnicalIndicators().generate_all_features(bars)[FEATURE_NAMES]
    return features.assign(next_return=bars["close"].shift(-1) / bars["close"] - 1.0)


class PeekingModel:
    """A pipeline leak that no label shuffle removes: predictions read the future feature directly."""

    def fit(self, x: pd.DataFrame, y: Any) -> PeekingModel:
        return self

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        up = (x["next_return"].to_numpy() > 0).astype(float)
        return np.column_stack([1 - up, up])


def test_honest_eurusd_run_stays_near_chance_and_is_not_flagged(tmp_path: Path) -> None:
    bt = WalkForwardBacktest(
        "markets", n_workers=1, model_params=SMALL_MODEL, permutation_check=True, html=False
    )
    result = bt.run_walkforward(**EURUSD_WINDOWS, output_dir=tmp_path)
    overall = result["summary"]["overall"]
    assert set(result["baselines"]) == {"majority", "always_up"}
    assert abs(overall["accuracy"] - 0.5) < 0.06
    assert result["guard"]["findings"] == []
    assert result["guard"]["permutation"]["passed"]
    assert {"overall_accuracy", "overall_f1", "overall_mcc", "step_stats"} <= set(result["summary"])


def test_guard_catches_a_feature_that_peeks_at_the_next_bar(tmp_path: Path) -> None:
    bt = WalkForwardBacktest(
        "markets", n_workers=1, model_params=SMALL_MODEL, feature_fn=peeking_features, html=False
    )
    result = bt.run_walkforward(**EURUSD_WINDOWS, output_dir=tmp_path)
    assert result["summary"]["overall"]["accuracy"] > 0.9
    rules = {f["rule"] for f in result["guard"]["findings"]}
    assert rules == {"markets-accuracy-far-above-chance", "markets-f1-implausible"}
    text = (tmp_path / "walkforward_report.txt").read_text(encoding="utf-8")
    assert "! markets-accuracy-far-above-chance" in text


def test_permutation_check_fails_when_predictions_do_not_depend_on_training(tmp_path: Path) -> None:
    bt = WalkForwardBacktest(
        "markets", n_workers=1, model_factory=PeekingModel, feature_fn=peeking_features,
        permutation_check=True, html=False,
    )  # fmt: skip
    result = bt.run_walkforward(**EURUSD_WINDOWS, output_dir=tmp_path)
    check = result["guard"]["permutation"]
    assert not check["passed"]
    assert check["value"] > 0.9
    assert "permutation-not-at-chance" in {f["rule"] for f in result["guard"]["findings"]}


def test_training_rows_whose_label_reaches_the_test_window_are_purged(tmp_path: Path) -> None:
    windows = {**EURUSD_WINDOWS, "end_date": "2017-10-15"}
    bt = WalkForwardBacktest("markets", n_workers=1, model_params=SMALL_MODEL, label_horizon=3, html=False)
    result = bt.run_walkforward(**windows, output_dir=tmp_path)
    assert [s["n_purged"] for s in result["steps"]] == [3, 3]
    p = pd.read_parquet(tmp_path / "walkforward_predictions.parquet")
    assert p["timestamp"].min() >= pd.Timestamp("2017-10-02")
    assert p["timestamp"].max() < pd.Timestamp("2017-10-16")


def test_markets_metrics_recomputed_from_parquet(tmp_path: Path, small_bars: pd.DataFrame) -> None:
    start = small_bars.index[24 * 30].normalize()
    bt = WalkForwardBacktest("markets", data=small_bars, n_workers=1, model_params=SMALL_MODEL, html=False)
    result = bt.run_walkforward(start, start + pd.Timedelta(days=20), 25, 5, 5, tmp_path)
    p = pd.read_parquet(tmp_path / "walkforward_predictions.parquet")
    overall = result["summary"]["overall"]
    assert overall["accuracy"] == pytest.approx((p.predicted == p.actual).mean())
    tp = ((p.predicted == 1) & (p.actual == 1)).sum()
    assert overall["precision"] == pytest.approx(tp / (p.predicted == 1).sum())
    assert overall["recall"] == pytest.approx(tp / (p.actual == 1).sum())
    earned = np.where(p.predicted == 1, 1.0, -1.0) * p.forward_return
    assert overall["signal_mean_return"] == pytest.approx(earned.mean())
    assert ((p.proba_up >= 0.5).astype(int) == p.predicted).all()
