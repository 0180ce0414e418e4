"""Train a ProductionEnsemble on a time-ordered split and score it beside the baselines.

This is the seed's ``create_ml_models.py --days 360 --verbose``: the last ``days`` days of
data are split in time, the earlier part trains, the later part is held out, and each
model's score on the held-out part is reported next to the baselines a model must beat.
The split never shuffles: a held-out row is always later than every training row, market
training rows whose label reaches into the held-out period are purged, and races are
split by whole days.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError, DataValidationError
from stagewise.metrics.intervals import wilson_interval
from stagewise.models.calibration import CALIBRATION_FRACTION
from stagewise.models.ensemble import ProductionEnsemble
from stagewise.models.training_calibration import (
    calibration_metrics,
    check_calibration,
    fit_calibrated_ensemble,
)

if TYPE_CHECKING:
    from stagewise.features.sets import FeatureSet

__all__ = [
    "MAX_TRAINING_DAYS",
    "ModelScore",
    "TrainingReport",
    "check_training_window",
    "train_markets",
    "train_races",
]

MAX_TRAINING_DAYS = 36_525
"""Longest training window in days: a century (longer than any bar or race history)."""

Progress = Callable[[str], None]

_FAMILY_LABELS = {"lightgbm": "LightGBM", "xgboost": "XGBoost", "random_forest": "RandomForest"}
_METRIC_KEYS = {label: family for family, label in _FAMILY_LABELS.items()}


@dataclass(frozen=True, slots=True)
class ModelScore:
    """One model's (or baseline's) score on the held-out period."""

    name: str
    metric: str
    value: float
    low: float = math.nan
    high: float = math.nan
    extra: dict[str, float] = field(default_factory=dict)
    is_baseline: bool = False


@dataclass(slots=True)
class TrainingReport:
    """What :func:`train_markets` or :func:`train_races` did and how the models scored."""

    domain: str
    model: ProductionEnsemble
    train_window: tuple[str, str]
    test_window: tuple[str, str]
    n_train: int
    n_test: int
    scores: list[ModelScore]
    fit_seconds: float
    notes: list[str] = field(default_factory=list)
    feature_set: FeatureSet | None = None
    flavour: Any = None
    """What to register: for races the win ensemble and its place model as one ``RaceFlavour``."""
    calibration: str | None = None
    """``"isotonic"`` or ``"platt"`` when the registered model carries its calibrator."""
    calibration_scores: dict[str, float] = field(default_factory=dict)
    """Held-out ECE raw and calibrated (:func:`.training_calibration.calibration_metrics`)."""

    def performance_metrics(self) -> dict[str, float]:
        """Flat metric dict for the registry metadata (``lightgbm_f1``, ``ensemble_hit_rate_1st``, ...)."""
        out: dict[str, float] = {}
        for score in self.scores:
            key = _METRIC_KEYS.get(score.name) or score.name.lower().replace(" ", "_").replace("-", "_")
            out[f"{key}_{score.metric}"] = round(score.value, 6)
            for name, value in score.extra.items():
                out[f"{key}_{name}"] = round(value, 6)
        out.update({name: round(value, 6) for name, value in self.calibration_scores.items()})
        return out


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"The {name!r} parameter must be an int >= {minimum}. Got {value!r}.")
    return int(value)


def check_training_window(days: object, test_fraction: object) -> tuple[int, float]:
    """Validate ``days`` (1..MAX_TRAINING_DAYS) and ``test_fraction`` (0, 1) before any data is read."""
    checked = _check_int("days", days, 1)
    if checked > MAX_TRAINING_DAYS:
        raise ConfigError(f"The 'days' parameter must be an int in 1..{MAX_TRAINING_DAYS}. Got {days!r}.")
    return checked, _check_fraction(test_fraction)


def _check_fraction(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < float(value) < 1.0:
        raise ConfigError(f"The 'test_fraction' parameter must be a number in (0, 1). Got {value!r}.")
    return float(value)


def _noop(_: str) -> None:
    return None


# ---------------------------------------------------------------------------- markets
def train_markets(
    bars: pd.DataFrame,
    *,
    days: int = 360,
    test_fraction: float = 0.25,
    horizon: int = 1,
    random_state: int = 0,
    n_jobs: int = 1,
    model_params: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    feature_set: FeatureSet | None = None,
    calibration: str | None = None,
    calibration_fraction: float = CALIBRATION_FRACTION,
) -> TrainingReport:
    """Train next-bar direction on the last ``days`` days of ``bars`` and score the held-out tail.

    Reports accuracy (with a Wilson interval) and F1 of each family and of the ensemble, beside
    *always up* and *majority class of the training labels*. On real hourly FX, honest
    accuracy is close to 50 %. ``calibration`` (``"isotonic"`` or ``"platt"``) fits the ensemble on
    the training part's earlier days and a calibrator on its last ``calibration_fraction`` of days
    (``horizon`` bars purged between them); the report's ``flavour`` is the calibrated model, and the
    ensemble's held-out scores are its (up when its calibrated probability is above 0.5).
    """
    from sklearn.metrics import accuracy_score, f1_score

    from stagewise.data import validate_bars
    from stagewise.features.labels import next_bar_direction
    from stagewise.features.sets import FeatureSet

    days, fraction = check_training_window(days, test_fraction)
    horizon = _check_int("horizon", horizon, 1)
    calibration = check_calibration(calibration, calibration_fraction)
    say = progress or _noop

    bars = validate_bars(bars, gaps="allow")
    features_from = feature_set or FeatureSet.technical()
    say(f"computing the {features_from.function or features_from.kind} features")
    features = features_from.compute(bars)
    labels = next_bar_direction(bars, horizon=horizon)
    cutoff = bars.index[-1] - pd.Timedelta(days=days)
    usable = (bars.index > cutoff) & features.notna().all(axis=1).to_numpy() & labels.notna().to_numpy()
    X, y = features.loc[usable], labels.loc[usable].astype(int)
    n_test = math.ceil(len(X) * fraction)
    n_train = len(X) - n_test - horizon  # purge: these rows' labels reach into the held-out period
    if n_train < 100 or n_test < 20:
        raise DataValidationError(
            f"Too few usable bars to train: {len(X)} in the last {days} days after the indicator warm-up "
            f"(need at least 100 training and 20 held-out rows). Give more bars or a larger 'days'."
        )
    X_train, y_train = X.iloc[:n_train], y.iloc[:n_train]
    X_test, y_test = X.iloc[-n_test:], y.iloc[-n_test:].to_numpy()

    say(f"fitting LightGBM, XGBoost and RandomForest on {n_train:,} bars")
    model = ProductionEnsemble(random_state=random_state, n_jobs=n_jobs, **dict(model_params or {}))
    started = time.perf_counter()
    calibrated = None
    if calibration is None:
        model.fit(X_train, y_train)
    else:
        say(f"{calibration} calibration on the training part's last {calibration_fraction:.0%} of days")
        model, calibrated = fit_calibrated_ensemble(
            model,
            X_train,
            y_train.to_numpy(),
            timestamps=X_train.index,
            method=calibration,
            fraction=calibration_fraction,
            purge=horizon,
        )
    fit_seconds = time.perf_counter() - started

    say(f"scoring {n_test:,} held-out bars")
    predictions = {
        _FAMILY_LABELS[name]: (proba[:, 1] > 0.5).astype(int)
        for name, proba in model.predict_proba_by_model(X_test).items()
    }
    predictions["Ensemble"] = model.predict(X_test).astype(int)
    calibration_scores: dict[str, float] = {}
    if calibrated is not None:
        served = calibrated.predict_proba(X_test)[:, 1]
        predictions["Ensemble"] = (served > 0.5).astype(int)
        raw = model.predict_proba(X_test)[:, 1]
        calibration_scores = calibration_metrics(raw, served, y_test.astype(np.float64))
    majority = int(y_train.mean() >= 0.5)
    baselines = {"always up": np.ones(n_test, dtype=int), "majority class": np.full(n_test, majority)}

    scores = []
    for name, predicted in [*predictions.items(), *baselines.items()]:
        hits = int((predicted == y_test).sum())
        low, high = wilson_interval(hits, n_test)
        scores.append(
            ModelScore(
                name=name,
                metric="f1",
                value=float(f1_score(y_test, predicted, zero_division=0.0)),
                extra={"accuracy": float(accuracy_score(y_test, predicted))},
                low=low,
                high=high,
                is_baseline=name in baselines,
            )
        )
    notes = []
    ensemble = next(s for s in scores if s.name == "Ensemble")
    if ensemble.low > 0.6:
        notes.append(
            f"Held-out accuracy {ensemble.extra['accuracy']:.1%} (95 % interval from {ensemble.low:.1%}) "
            "is far above chance for next-bar direction: suspect leakage before believing it."
        )
    return TrainingReport(
        feature_set=features_from,
        flavour=calibrated,
        calibration=calibration,
        calibration_scores=calibration_scores,
        domain="markets",
        model=model,
        train_window=(str(X_train.index[0]), str(X_train.index[-1])),
        test_window=(str(X_test.index[0]), str(X_test.index[-1])),
        n_train=n_train,
        n_test=n_test,
        scores=scores,
        fit_seconds=fit_seconds,
        notes=notes,
    )


# ---------------------------------------------------------------------------- races
class _FixedProba:
    """Adapter giving ``rank_races`` probabilities computed elsewhere."""

    def __init__(self, positive: np.ndarray) -> None:
        self._positive = positive

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.column_stack([1.0 - self._positive, self._positive])


def train_races(
    races: pd.DataFrame,
    *,
    days: int = 360,
    test_fraction: float = 0.25,
    random_state: int = 0,
    n_jobs: int = 1,
    model_params: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    feature_set: FeatureSet | None = None,
    calibration: str | None = None,
    calibration_fraction: float = CALIBRATION_FRACTION,
) -> TrainingReport:
    """Train "this boat wins" on the last ``days`` days of races and score the held-out days.

    Each model ranks the boats of every held-out race; the report gives its win hit rate
    (``hit_rate_1st``) and ordered trifecta hit rate (``hit_rate_top3``) with Wilson
    intervals, beside always-lane-order 1-2-3, random (1/6 and 1/120) and, on simulated
    data, the oracle (the simulator's true probabilities). ``feature_set`` (default: the built-in
    race features) computes the rows; the report's ``flavour`` is the win ensemble with a place
    model fitted on the same training races, to register as one version. ``calibration``
    (``"isotonic"`` or ``"platt"``): the win ensemble learns on the training races' earlier days and a
    calibrator on their last ``calibration_fraction`` of days; the registered win model is the
    calibrated one and the ensemble's held-out rows are ranked by it.
    """
    from stagewise.data import race_results, validate_races
    from stagewise.features.sets import FeatureSet
    from stagewise.metrics.race_summary import score_predictions, summarize_races
    from stagewise.models.flavours import RaceFlavour
    from stagewise.models.places import PlaceModel
    from stagewise.models.races import rank_races

    days, fraction = check_training_window(days, test_fraction)
    calibration = check_calibration(calibration, calibration_fraction)
    say = progress or _noop

    races = validate_races(races)
    dates = races["race_date"]
    last_day = dates.max()
    window = races.loc[dates > last_day - pd.Timedelta(days=days)]
    all_days = np.sort(window["race_date"].unique())
    n_test_days = math.ceil(len(all_days) * fraction)
    if len(all_days) - n_test_days < 1 or n_test_days < 1:
        raise DataValidationError(
            f"Too few race days to train: {len(all_days)} in the last {days} days; need at least 2 "
            "(one to train, one to hold out). Simulate more with `stagewise data simulate`."
        )
    first_test_day = all_days[-n_test_days]
    train = window.loc[window["race_date"] < first_test_day]
    test = window.loc[window["race_date"] >= first_test_day]

    features_from = feature_set or FeatureSet.races()
    say(f"computing the {features_from.function or features_from.kind} features")
    X_train = features_from.compute(train)
    X_test = features_from.compute(test)
    y_train = (train["finish_position"] == 1).fillna(False).astype(int)

    say(f"fitting LightGBM, XGBoost and RandomForest on {len(train):,} boats")
    model = ProductionEnsemble(random_state=random_state, n_jobs=n_jobs, **dict(model_params or {}))
    started = time.perf_counter()
    win_model: Any = model
    if calibration is None:
        model.fit(X_train, y_train)
    else:
        say(f"{calibration} calibration on the training races' last {calibration_fraction:.0%} of days")
        model, win_model = fit_calibrated_ensemble(
            model,
            X_train,
            y_train.to_numpy(),
            timestamps=train["race_date"],
            method=calibration,
            fraction=calibration_fraction,
        )
    fit_seconds = time.perf_counter() - started
    say("fitting the place model (who fills places 2-6)")
    place = PlaceModel(random_state=random_state, n_jobs=n_jobs).fit(
        X_train.to_numpy(dtype=np.float64),
        pd.factorize(train["race_id"])[0],
        train["pit"].to_numpy(),
        train["finish_position"].astype("float64").to_numpy(),
    )

    say(f"ranking {test['race_id'].nunique():,} held-out races")
    results = race_results(test)
    entries = test[["race_id", "pit", "race_date"]]
    rankings: dict[str, pd.DataFrame] = {
        _FAMILY_LABELS[name]: rank_races(_FixedProba(proba[:, 1]), entries, X_test)
        for name, proba in model.predict_proba_by_model(X_test).items()
    }
    rankings["Ensemble"] = rank_races(win_model, entries, X_test)
    calibration_scores: dict[str, float] = {}
    if calibration is not None:
        calibration_scores = calibration_metrics(
            model.predict_proba(X_test)[:, 1],
            win_model.predict_proba(X_test)[:, 1],
            (test["finish_position"] == 1).fillna(False).to_numpy(dtype=np.float64),
            races=pd.factorize(test["race_id"])[0],
        )
    baselines: dict[str, pd.DataFrame] = {
        "lane order 1-2-3": rank_races(_FixedProba((7 - test["pit"].to_numpy()) / 21.0), entries, X_test)
    }
    oracle_trifecta = None
    if "true_win_prob" in test.columns:
        baselines["oracle"] = rank_races(_FixedProba(test["true_win_prob"].to_numpy(float)), entries, X_test)
        oracle_trifecta = _oracle_trifecta_ranking(test, entries, X_test)

    def summarize(ranking: pd.DataFrame) -> dict[str, Any]:
        scored = score_predictions(ranking.assign(race_date=test["race_date"]), results)
        return summarize_races(scored, n_resamples=200)

    scores: list[ModelScore] = []
    for name, ranking in [*rankings.items(), *baselines.items()]:
        summary = summarize(ranking)
        if name == "oracle" and oracle_trifecta is not None:
            # its best win pick and its best trifecta are separate picks
            summary["hit_rate_top3"] = summarize(oracle_trifecta)["hit_rate_top3"]
        low, high = summary["hit_rate_1st_ci"]
        scores.append(
            ModelScore(
                name=name,
                metric="hit_rate_1st",
                value=float(summary["hit_rate_1st"]),
                low=float(low),
                high=float(high),
                extra={"hit_rate_top3": float(summary["hit_rate_top3"])},
                is_baseline=name in baselines,
            )
        )
    scores.append(
        ModelScore("random", "hit_rate_1st", 1 / 6, extra={"hit_rate_top3": 1 / 120}, is_baseline=True)
    )
    return TrainingReport(
        feature_set=features_from,
        flavour=RaceFlavour.from_parts(win_model, place),
        calibration=calibration,
        calibration_scores=calibration_scores,
        domain="races",
        model=model,
        train_window=(str(train["race_date"].min().date()), str(train["race_date"].max().date())),
        test_window=(str(test["race_date"].min().date()), str(test["race_date"].max().date())),
        n_train=len(train),
        n_test=int(test["race_id"].nunique()),
        scores=scores,
        fit_seconds=fit_seconds,
    )


def _oracle_trifecta_ranking(
    test: pd.DataFrame, entries: pd.DataFrame, features: pd.DataFrame
) -> pd.DataFrame:
    """The simulator's most probable ordered trifecta on top, the other boats by win probability."""
    from stagewise.models.races import rank_races

    position = test["oracle_trifecta_position"].astype("Float64").fillna(4.0).to_numpy(dtype=float)
    key = (4.0 - position) + test["true_win_prob"].to_numpy(dtype=float)
    return rank_races(_FixedProba(key / 4.0), entries, features)
