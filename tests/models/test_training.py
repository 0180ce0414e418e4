from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from stagewise import ConfigError, DataValidationError
from stagewise.data import bundled_bars, simulate_races, synthetic_bars
from stagewise.models.training import train_markets, train_races

SMALL = {
    "lgbm_params": {"n_estimators": 30},
    "xgb_params": {"n_estimators": 30},
    "rf_params": {"n_estimators": 30},
}


@pytest.fixture(scope="module")
def eurusd_report():  # type: ignore[no-untyped-def]
    return train_markets(bundled_bars("EURUSD"), days=360, model_params=SMALL)


def test_markets_holdout_is_later_than_training_and_purged(eurusd_report) -> None:  # type: ignore[no-untyped-def]
    report = eurusd_report
    assert pd.Timestamp(report.train_window[1]) < pd.Timestamp(report.test_window[0])
    # 5,000 bars minus the warm-up and the last unlabeled bar, split 3:1 with one purged row.
    assert report.n_test == pytest.approx(0.25 * (report.n_train + report.n_test + 1), abs=2)


def test_markets_reports_every_family_beside_baselines(eurusd_report) -> None:  # type: ignore[no-untyped-def]
    names = [s.name for s in eurusd_report.scores]
    assert names == ["LightGBM", "XGBoost", "RandomForest", "Ensemble", "always up", "majority class"]
    metrics = eurusd_report.performance_metrics()
    assert {"lightgbm_f1", "xgboost_f1", "random_forest_f1", "ensemble_f1", "ensemble_accuracy"} <= set(
        metrics
    )


def test_eurusd_hourly_direction_is_honestly_near_chance(eurusd_report) -> None:  # type: ignore[no-untyped-def]
    # SPEC §4: honest next-bar direction accuracy on real hourly FX is close to 50 %.
    ensemble = next(s for s in eurusd_report.scores if s.name == "Ensemble")
    assert 0.40 < ensemble.extra["accuracy"] < 0.60
    assert ensemble.low < 0.5 < ensemble.high or abs(ensemble.extra["accuracy"] - 0.5) < 0.05
    assert not eurusd_report.notes


def test_leaky_bars_get_a_leakage_note() -> None:
    # The seed's kind of leak: a column joined one bar off, so the volume at t already knows close[t+1].
    bars = synthetic_bars(4000, freq="1h", seed=3)
    close = bars["close"].to_numpy()
    up_next = np.append(close[1:] > close[:-1], False)
    leaky = bars.assign(volume=np.where(up_next, 2000.0, 1000.0) * np.linspace(1.0, 1.1, len(bars)))
    report = train_markets(leaky, days=10_000, model_params=SMALL)
    assert report.notes
    assert "leakage" in report.notes[0]


@pytest.fixture(scope="module")
def race_report():  # type: ignore[no-untyped-def]
    races = simulate_races("2025-01-01", "2025-04-30", seed=1)
    return train_races(races, days=120, model_params=SMALL)


def test_races_split_by_whole_days(race_report) -> None:  # type: ignore[no-untyped-def]
    assert race_report.train_window[1] < race_report.test_window[0]


def test_race_ensemble_beats_lane_order_and_stays_below_the_oracle(race_report) -> None:  # type: ignore[no-untyped-def]
    # On the simulator lane 1 is so strong that even the oracle wins only ~2 points more often than
    # always-lane-order; the trifecta is where pre-race information pays.
    by_name = {s.name: s for s in race_report.scores}
    ensemble, lane, oracle = by_name["Ensemble"], by_name["lane order 1-2-3"], by_name["oracle"]
    win_margin = ensemble.value - lane.value
    trifecta_ratio = ensemble.extra["hit_rate_top3"] / lane.extra["hit_rate_top3"]
    print(
        f"win: ensemble {ensemble.value:.2%}, lane order {lane.value:.2%} (+{win_margin:.2%}), "
        f"oracle {oracle.value:.2%}; trifecta ×{trifecta_ratio:.2f} of lane order"
    )
    assert win_margin > 0.005
    assert trifecta_ratio > 1.3
    assert ensemble.value <= oracle.value
    assert ensemble.value / oracle.value > 0.95
    assert by_name["random"].value == pytest.approx(1 / 6)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"days": 0}, "'days'"), ({"test_fraction": 1.5}, "'test_fraction'"), ({"horizon": 0}, "'horizon'")],
    ids=["days-0", "fraction-1.5", "horizon-0"],
)
def test_bad_parameters_name_the_parameter(kwargs: dict[str, float], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        train_markets(bundled_bars("EURUSD"), **kwargs)  # type: ignore[arg-type]


def test_too_little_data_says_how_much_is_needed() -> None:
    with pytest.raises(DataValidationError, match="Too few usable bars"):
        train_markets(bundled_bars("EURUSD").iloc[:120])
    one_day = simulate_races("2025-01-01", "2025-01-01", seed=0)
    with pytest.raises(DataValidationError, match="stagewise data simulate"):
        train_races(one_day)


def test_training_is_deterministic() -> None:
    bars = bundled_bars("EURUSD").iloc[-1500:]
    a = train_markets(bars, model_params=SMALL)
    b = train_markets(bars, model_params=SMALL)
    np.testing.assert_array_equal([s.value for s in a.scores], [s.value for s in b.scores])


@pytest.mark.slow
def test_on_a_simulated_year_the_default_ensemble_beats_lane_order() -> None:
    # Issue 2's proof on a whole simulated year with the library's default ensemble: the last quarter
    # (about 91 days, ~12,500 races) is held out.
    races = simulate_races("2025-01-01", "2025-12-31", seed=0)
    report = train_races(races, days=365)
    by_name = {s.name: s for s in report.scores}
    ensemble, lane, oracle = by_name["Ensemble"], by_name["lane order 1-2-3"], by_name["oracle"]
    print(
        f"year: ensemble win {ensemble.value:.2%} [{ensemble.low:.2%}, {ensemble.high:.2%}], lane order "
        f"{lane.value:.2%}, oracle {oracle.value:.2%}; trifecta {ensemble.extra['hit_rate_top3']:.2%} vs "
        f"{lane.extra['hit_rate_top3']:.2%} (lane order) and {oracle.extra['hit_rate_top3']:.2%} (oracle)"
    )
    assert ensemble.value - lane.value > 0.005
    assert ensemble.value / oracle.value > 0.97
    assert ensemble.extra["hit_rate_top3"] > 1.5 * lane.extra["hit_rate_top3"]


@pytest.mark.parametrize("domain", ["markets", "races"])
def test_calibrator_learns_on_the_training_parts_last_days_only(
    domain: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The calibrator sees rows after the model's and before the held-out period; never a held-out row."""
    from stagewise.models import CalibratedFlavour
    from stagewise.models.flavours import calibrated

    seen: dict[str, pd.Timestamp] = {}
    original = calibrated.calibration_holdout

    def spy(timestamps: Any, fraction: float) -> np.ndarray:
        held = original(timestamps, fraction)
        stamps = pd.DatetimeIndex(pd.to_datetime(np.asarray(timestamps)))
        seen["first_held"], seen["last_held"] = stamps[held].min(), stamps[held].max()
        seen["last_fit"] = stamps[~held].max()
        return held

    monkeypatch.setattr(calibrated, "calibration_holdout", spy)
    if domain == "markets":
        report = train_markets(
            bundled_bars("EURUSD").iloc[-2500:], model_params=SMALL, calibration="isotonic"
        )
        model = report.flavour
    else:
        races = simulate_races("2025-01-01", "2025-01-20", seed=1, venues=[1, 12])
        report = train_races(races, days=20, model_params=SMALL, calibration="isotonic")
        model = report.flavour.win_
    assert isinstance(model, CalibratedFlavour)
    assert seen["last_fit"] < seen["first_held"]
    assert seen["last_held"] <= pd.Timestamp(report.train_window[1])
    assert seen["last_held"] < pd.Timestamp(report.test_window[0])
    assert report.calibration_scores["calibration_ece"] >= 0.0
    assert report.performance_metrics()["calibration_ece"] == pytest.approx(
        report.calibration_scores["calibration_ece"], abs=1e-6
    )


def test_market_calibration_purges_the_horizon_before_the_holdout() -> None:
    from sklearn.linear_model import LogisticRegression

    from stagewise.models import CalibratedFlavour, SklearnFlavour

    class Recording(LogisticRegression):
        def fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> Recording:
            self.rows_ = X.index
            super().fit(X, y, sample_weight)
            return self

    rng = np.random.default_rng(0)
    index = pd.date_range("2025-01-01", periods=24 * 10, freq="1h")
    X = pd.DataFrame({"x": rng.normal(size=len(index))}, index=index)
    y = (rng.random(len(index)) < 0.5).astype(int)
    model = CalibratedFlavour(Recording(), "platt", 0.2).fit(X, y, timestamps=index, purge=3)
    assert isinstance(model.base_, SklearnFlavour)
    rows = model.base_.estimator_.rows_
    # 10 days: the last 2 are the holdout; the 3 bars before it are purged
    assert rows.max() == pd.Timestamp("2025-01-09") - pd.Timedelta(hours=4)
    assert len(rows) == 24 * 8 - 3


def test_bad_calibration_is_refused_before_any_work() -> None:
    with pytest.raises(ConfigError, match="'calibration' parameter must be one of"):
        train_races(pd.DataFrame(), calibration="sigmoid")
    with pytest.raises(ConfigError, match="'calibration_fraction'"):
        train_markets(pd.DataFrame(), calibration="platt", calibration_fraction=1.0)
