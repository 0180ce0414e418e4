"""The demo's markets scenario: the same lifecycle on the bundled EURUSD hourly bars.

A champion and a regularised challenger direction ensemble learn from the bars before the live
period; the degraded challenger has the classic off-by-one label bug. Each bar is routed on its
unit id, its signal logged before its outcome, and the controller judges the signals each
midnight under the markets health policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from stagewise._domain import Domain
from stagewise._exceptions import ConfigError
from stagewise.lifecycle import markets_report
from stagewise.lifecycle.market_replay import MarketDayOutcome, replay_market_days
from stagewise.lifecycle.scenario import BacktestPlan, Deployment, LiveData

if TYPE_CHECKING:
    from stagewise.lifecycle.scenario import ServedModel
    from stagewise.models.ensemble import EnsembleParams, ProductionEnsemble
    from stagewise.models.training import TrainingReport
    from stagewise.monitor import PerformanceMonitor

__all__ = [
    "MARKET_CHALLENGER",
    "MARKET_CONTROLLER",
    "MARKET_HEALTH_WINDOW_DAYS",
    "MARKET_MIN_HISTORY_DAYS",
    "MARKET_MODEL",
    "SYMBOL",
    "MarketsScenario",
    "check_market_days",
    "span_days",
]

SYMBOL = "EURUSD"
#: Days of bars that must stay before the live period: training, and the walk-forward backtest
#: (four 14-day test windows after 60 training days).
MARKET_MIN_HISTORY_DAYS = 120
#: (days before the last history day where testing starts, train_days, test_days, step_days).
MARKET_BACKTEST_WINDOW = (55, 60, 14, 14)
#: The champion: the seed's soft vote (0.4 / 0.4 / 0.2) at the demo's small sizes.
MARKET_MODEL: EnsembleParams = {
    "lgbm_params": {"n_estimators": 60, "num_leaves": 15},
    "xgb_params": {"n_estimators": 60, "max_depth": 4},
    "rf_params": {"n_estimators": 40, "max_depth": 10},
}
#: The challenger: the same families, strongly regularised (shallow trees, large leaves). On
#: near-random next-bar direction its probabilities stay near the base rate instead of echoing
#: noise, which is what the Brier score rewards; its direction calls are no better than a coin.
MARKET_CHALLENGER: EnsembleParams = {
    "lgbm_params": {"n_estimators": 60, "num_leaves": 4, "min_child_samples": 200},
    "xgb_params": {"n_estimators": 60, "max_depth": 2, "min_child_weight": 50},
    "rf_params": {"n_estimators": 40, "max_depth": 4, "min_samples_leaf": 100},
}
#: Days the health verdict pools at the current stage: longer than the 10 % stage lasts, so the
#: verdict uses every signal since the stage began (about 2.3 challenger signals a trading day).
MARKET_HEALTH_WINDOW_DAYS = 60
#: The controller's settings for signals (see docs/demo.md): a day counts when the challenger
#: served at least one settled signal; the markets health policy pools the window.
MARKET_CONTROLLER: dict[str, Any] = {"days_healthy": 3, "min_races_per_day": 1}


def span_days() -> int:
    """Calendar days the bundled bars cover (first to last day with a bar)."""
    from stagewise.data import bundled_bars

    index = pd.DatetimeIndex(bundled_bars(SYMBOL).index)
    return int((index[-1].normalize() - index[0].normalize()).days) + 1


def check_market_days(days: int, span_days: int) -> None:
    """Refuse a ``days`` that leaves too little history before the 2 × ``days`` live days."""
    most = (span_days - MARKET_MIN_HISTORY_DAYS) // 2
    if not 7 <= days <= most:
        raise ConfigError(
            f"The 'days' option must be an int in [7, {most}] for the markets domain: the bundled "
            f"{SYMBOL} bars cover {span_days} days, 2 × DAYS are replayed and at least "
            f"{MARKET_MIN_HISTORY_DAYS} days must stay before them to train and backtest. Got {days!r}."
        )


def _labelled(bars: pd.DataFrame) -> pd.DataFrame:
    """The 12 features, the next-bar direction and when it becomes known (the next bar's close)."""
    from stagewise.features.labels import next_bar_direction
    from stagewise.features.technical import FEATURE_NAMES, TechnicalIndicators

    frame = TechnicalIndicators().generate_all_features(bars)[FEATURE_NAMES].copy()
    frame["outcome"] = next_bar_direction(bars)
    step = pd.Timedelta(hours=1)
    frame["known_at"] = pd.Series(bars.index, index=bars.index).shift(-1) + step
    return frame.dropna()


def _fit_off_by_one(history: pd.DataFrame, params: EnsembleParams, seed: int) -> ProductionEnsemble:
    """A real ensemble with the classic label bug: the *previous* bar's direction instead of the next.

    Its features hold the previous bar's return, so it learns that label perfectly and is
    certain of every call; live, against the real next-bar direction, it is right only by chance.
    """
    from stagewise.features.technical import FEATURE_NAMES
    from stagewise.models import ProductionEnsemble

    close = history["close"].to_numpy(dtype=np.float64)
    previous_up = np.r_[np.nan, (close[1:] > close[:-1]).astype(np.float64)]
    labels = pd.Series(previous_up, index=history.index)
    from stagewise.features.technical import TechnicalIndicators

    features = TechnicalIndicators().generate_all_features(history)[FEATURE_NAMES]
    usable = features.notna().all(axis=1) & labels.notna()
    model = ProductionEnsemble(random_state=seed, **params)
    model.fit(features.loc[usable], labels.loc[usable].astype(int))
    return model


def _brier(predictions: pd.DataFrame) -> dict[str, float]:
    """Brier score of the backtest's probabilities and its skill against the base-rate forecast."""
    y = predictions["actual"].to_numpy(dtype=np.float64)
    brier = float(np.mean((predictions["proba_up"].to_numpy(dtype=np.float64) - y) ** 2))
    up = float(y.mean())
    base = up * (1.0 - up)
    return {"brier_score": brier, "brier_skill": 1.0 - brier / base if base > 0 else float("nan")}


def _regularised(params: EnsembleParams) -> EnsembleParams:
    """The challenger's regularisation over caller-given sizes (tests pass tiny ensembles)."""

    def family(name: Literal["lgbm_params", "xgb_params", "rf_params"]) -> dict[str, object]:
        defaults = MARKET_CHALLENGER.get(name) or {}
        given = dict(params.get(name) or {})
        return {**{k: v for k, v in defaults.items() if k != "n_estimators"}, **given}

    return {
        "lgbm_params": family("lgbm_params"),
        "xgb_params": family("xgb_params"),
        "rf_params": family("rf_params"),
    }


def _step_texts(days: int, receiver_url: str) -> dict[int, tuple[str, str]]:
    return {
        1: (
            f"Load the bundled {SYMBOL} bars",
            "5,000 real hourly EURUSD bars shipped with the backtesting package (nothing is downloaded). "
            f"The last 2 × {days} days are the 'live' period no model is trained on; the bars before it "
            "train and backtest the models. On hourly FX an honest direction model is right about half "
            "the time: the numbers below are expected to sit near 50 %.",
        ),
        2: (
            "Train a champion and a challenger, then walk-forward backtest both",
            "The champion is the seed's soft vote (LightGBM 0.4, XGBoost 0.4, RandomForest 0.2); the "
            "challenger is the same vote with shallow, heavily regularised trees, so its probabilities "
            "stay near the base rate instead of echoing noise. Each is scored on the held-out tail "
            "beside the majority class, then walk-forward backtested (training rows purged by the label "
            "horizon).",
        ),
        4: (
            f"Roll the challenger out at 10 % and replay {days} live days of bars",
            "Each bar is routed by GradualRollout.should_enable_feature on its unit id "
            f"'{SYMBOL}:<timestamp>' (enabled → challenger, else champion); its signal is logged at the "
            "bar's close, pending, and settled when the next bar closes. At midnight the day's stats and "
            "alerts are computed and the controller judges the challenger's signals under the markets "
            f"health policy ({markets_report.MARKET_HEALTH_NOTE}); it promotes 10 % → 50 % → 100 % after "
            "3 healthy days, holds, or rolls back.",
        ),
        5: (
            "Once more with a degraded challenger",
            "An ensemble trained with the classic off-by-one label bug (the previous bar's direction, which "
            "its features contain, instead of the next) is registered as the challenger and rolled out at "
            "10 %. It is certain of every call and right only by chance; the controller should roll it "
            f"back on its own and tell the webhook receiver listening on {receiver_url}.",
        ),
        6: (
            "Write the reports",
            "The monitor's daily signal stats (all, challenger, control), then one page linking the "
            "backtests, the monitor trend, each day's controller decision, the rollout history and the "
            "verified audit log.",
        ),
    }


def _model_info(report: TrainingReport, version: str, notes: str) -> dict[str, Any]:
    scores = {s.name: s for s in report.scores}
    ensemble = scores["Ensemble"]
    return {
        "version": version,
        "accuracy": ensemble.extra.get("accuracy"),
        "low": ensemble.low,
        "high": ensemble.high,
        "f1": ensemble.value,
        "majority": scores["majority class"].extra.get("accuracy"),
        "n_test": report.n_test,
        "notes": notes,
    }


class MarketsScenario:
    """The markets domain of the demo (see the module docstring)."""

    domain = Domain.MARKETS
    register_note = f" ({SYMBOL} direction)"
    unit = "signal"
    health_policy: str | None = "markets"
    #: Calendar days: 8 weeks are about 40 trading days (the 10 % stage alone needs about five weeks).
    default_days = 56

    def check_days(self, days: int) -> None:
        check_market_days(days, span_days())

    def step_text(self, number: int, days: int, receiver_url: str) -> tuple[str, str]:
        return _step_texts(days, receiver_url)[number]

    def load(self, root: Path, days: int, seed: int) -> LiveData:
        from stagewise.data import bundled_bars

        bars = bundled_bars(SYMBOL)
        bars.to_parquet(root / "data" / "bars.parquet")
        stamps = pd.DatetimeIndex(bars.index)
        live_start = stamps[-1].normalize() - pd.Timedelta(days=2 * days - 1)
        history = bars.loc[stamps < live_start]
        first, cutoff = stamps[0], stamps[stamps < live_start][-1]
        labelled = _labelled(bars)
        live = labelled.loc[labelled.index >= live_start]
        good_end = live_start + pd.Timedelta(days=days)
        return LiveData(
            history=history,
            good=live.loc[live.index < good_end],
            degraded=live.loc[live.index >= good_end],
            first_live=live_start.date(),
            last_live=pd.Timestamp(live.index[-1]).date(),
            summary=f"{len(history):,} bars to learn from ({first} – {cutoff}), "
            f"{len(live):,} live bars from {live_start.date()} ({2 * days} calendar days).",
        )

    def candidates(self, model_params: EnsembleParams | None) -> dict[str, EnsembleParams]:
        if model_params is None:
            return {"champion": MARKET_MODEL.copy(), "challenger": MARKET_CHALLENGER.copy()}
        return {"champion": model_params.copy(), "challenger": _regularised(model_params)}

    def train(self, history: pd.DataFrame, params: EnsembleParams, seed: int) -> TrainingReport:
        from stagewise.models.training import train_markets

        stamps = pd.DatetimeIndex(history.index)
        days = (stamps[-1] - stamps[0]).days + 1
        return train_markets(history, days=days, model_params=params, random_state=seed)

    def model_info(self, report: TrainingReport, version: str, notes: str) -> dict[str, Any]:
        return _model_info(report, version, notes)

    def training_note(self, name: str, report: TrainingReport) -> str:
        info = _model_info(report, "", "")
        return (
            f"{name}: held-out accuracy {info['accuracy']:.1%} [{info['low']:.1%}, {info['high']:.1%}] "
            f"on {report.n_test:,} bars (majority class {info['majority']:.1%})"
        )

    def backtest_plan(self, history: pd.DataFrame) -> BacktestPlan:
        back, train_days, test_days, step_days = MARKET_BACKTEST_WINDOW
        end = pd.DatetimeIndex(history.index)[-1].normalize()
        steps = (back + step_days) // step_days
        return BacktestPlan(end - pd.Timedelta(days=back), end, train_days, test_days, step_days, steps)

    def backtest_entry(
        self, name: str, result: Mapping[str, Any], out_dir: Path
    ) -> tuple[str, dict[str, Any]]:
        summary = result["summary"]
        majority = (result.get("baselines") or {}).get("majority") or {}
        chance = float(majority.get("accuracy", float("nan")))
        brier = _brier(pd.read_parquet(result["outputs"]["predictions"]))
        note = (
            f"{name}: {summary['total_steps']} steps, {summary['total_bars']:,} test bars, "
            f"accuracy {summary['overall_accuracy']:.1%} (majority class {chance:.1%}), "
            f"MCC {summary['overall_mcc']:+.3f}, Brier {brier['brier_score']:.4f} "
            f"(skill vs the base rate {brier['brier_skill']:+.3f}) → {out_dir / name}"
        )
        outputs = {k: str(v) for k, v in result["outputs"].items()}
        return note, {"summary": summary, "majority": majority, **brier, "outputs": outputs}

    def fit_degraded(self, history: pd.DataFrame, params: EnsembleParams, seed: int) -> ProductionEnsemble:
        return _fit_off_by_one(history, params, seed)

    def degraded_info(self) -> tuple[str, dict[str, Any]]:
        info: dict[str, Any] = dict.fromkeys(("accuracy", "low", "high", "f1", "majority", "n_test"))
        info["notes"] = "trained on the previous bar's direction (off-by-one label)"
        return "demo: degraded on purpose (label shifted the wrong way)", info

    def prepare_monitor(self, monitor: PerformanceMonitor, data: LiveData) -> None:
        """Nothing: the signals' ledger starts with the first live bar."""

    def days_in(self, frame: pd.DataFrame) -> int:
        return int(pd.DatetimeIndex(frame.index).normalize().nunique())

    def replay(
        self,
        frame: pd.DataFrame,
        feature: str,
        deployment: Deployment,
        models: tuple[ServedModel, ServedModel],
        on_day: Callable[[MarketDayOutcome], None],
        days_after_rollback: int | None,
    ) -> list[MarketDayOutcome]:
        from stagewise.features.technical import FEATURE_NAMES
        from stagewise.rollout.controller import ControllerPolicy

        return replay_market_days(
            frame, symbol=SYMBOL, rollout=deployment.rollout, monitor=deployment.monitor, feature=feature,
            champion=models[0], challenger=models[1], feature_names=FEATURE_NAMES,
            clock=deployment.set_clock, policy=ControllerPolicy(**MARKET_CONTROLLER),
            notifiers=[deployment.notifier], on_day=on_day, days_after_rollback=days_after_rollback,
            health_window_days=MARKET_HEALTH_WINDOW_DAYS,
        )  # fmt: skip

    def day_line(self, day: MarketDayOutcome) -> str:
        return markets_report.day_line(day)

    def not_rolled_back(self, outcomes: Sequence[MarketDayOutcome], days: int) -> list[str]:
        from stagewise.rollout.health import MARKETS_POLICY

        served = sum(d.challenger_signals for d in outcomes)
        return [
            f"The degraded challenger was not rolled back within {days} days: it served {served} "
            "signals, and the health policy withholds a verdict below "
            f"{MARKETS_POLICY.min_sample} settled ones (a longer --days gives it the sample)."
        ]

    def write_monitor_report(
        self, monitor: PerformanceMonitor, data: LiveData, out_dir: Path
    ) -> dict[str, Path]:
        return markets_report.write_monitor_trend(monitor, data.first_live, data.last_live, out_dir)

    def closing_notes(self, days: Sequence[str]) -> list[str]:
        return []

    def models_table(self, models: Mapping[str, Mapping[str, Any]]) -> str:
        return markets_report.models_table(models)

    def backtests_table(self, backtests: Mapping[str, Mapping[str, Any]], base: Path) -> str:
        return markets_report.backtests_table(backtests, base)

    def day_table(self, outcomes: Sequence[MarketDayOutcome]) -> str:
        return markets_report.day_table(outcomes)
