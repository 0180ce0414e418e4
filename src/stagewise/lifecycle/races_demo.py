"""The demo's races scenario: simulated kyotei races, judged on the win hit rate.

A champion (the seed's soft vote) and a challenger that drops the forest are trained on 90
simulated days; the degraded challenger is an ensemble fitted on shuffled labels. Each race is
routed by its bucket, its prediction logged before the start and its result after it; the
controller decides at 06:00 the next morning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stagewise._domain import Domain
from stagewise.lifecycle import races_report
from stagewise.lifecycle.replay import DayOutcome, replay_days
from stagewise.lifecycle.scenario import BacktestPlan, Deployment, LiveData

if TYPE_CHECKING:
    from stagewise.lifecycle.scenario import ServedModel
    from stagewise.models.ensemble import EnsembleParams, ProductionEnsemble
    from stagewise.models.training import TrainingReport
    from stagewise.monitor import PerformanceMonitor

__all__ = [
    "CHALLENGER_WEIGHTS",
    "DEMO_MODEL",
    "FEATURE_SAMPLE_PER_DAY",
    "HEALTH_WINDOW_DAYS",
    "REFERENCE_DAYS",
    "TRAIN_DAYS",
    "RacesScenario",
]

#: Smaller ensembles than the library defaults so the demo takes about a minute on two cores.
DEMO_MODEL: EnsembleParams = {
    "lgbm_params": {"n_estimators": 60, "num_leaves": 15},
    "xgb_params": {"n_estimators": 60, "max_depth": 4},
    "rf_params": {"n_estimators": 40, "max_depth": 10},
}
#: The challenger leans on the boosters and drops the forest: a difference that changes its picks.
CHALLENGER_WEIGHTS = {"lightgbm": 0.6, "xgboost": 0.4, "random_forest": 0.0}
#: Days of simulated history the models learn from before the first live day.
TRAIN_DAYS = 90
#: Days the controller's health verdict starts from: its default week. At 10 % a day brings about 14
#: challenger races, so a week holds about 98, just under the seed table's 100-race minimum; the
#: controller widens the window a day at a time until it holds the minimum (up to 28 days).
HEALTH_WINDOW_DAYS = 7
#: Training days whose feature values are logged as the drift reference (``monitor drift``'s default window).
REFERENCE_DAYS = 28
#: Feature values logged per feature and day for drift (a sample, as the ledger stores in production).
FEATURE_SAMPLE_PER_DAY = 300
#: (days before the last history day where testing starts, train_days, test_days, step_days):
#: four 7-day test windows, each after its own 14 training days.
BACKTEST_WINDOW = (27, 14, 7, 7)
_FIRST_DAY = pd.Timestamp("2025-01-01")


def _step_texts(days: int, receiver_url: str) -> dict[int, tuple[str, str]]:
    return {
        1: (
            "Simulate races",
            f"{TRAIN_DAYS} days of simulated kyotei races (from {_FIRST_DAY.date()}) "
            f"to learn from, then 2 × {days} 'live' days the models never see in training. The simulator "
            "knows each boat's true win probability, so every score can sit beside the best achievable.",
        ),
        2: (
            "Train a champion and a challenger, then walk-forward backtest both",
            "The champion is the seed's soft vote (LightGBM 0.4, XGBoost 0.4, RandomForest 0.2); the "
            "challenger drops the forest (0.6 / 0.4 / 0). Each is scored on held-out days beside lane "
            "order 1-2-3 and the oracle, then walk-forward backtested so no test day was ever trained on.",
        ),
        4: (
            f"Roll the challenger out at 10 % and replay {days} live days",
            "Each race is routed by its bucket (GradualRollout.variant: 'on' → challenger, 'control' → "
            "champion), its prediction logged before the start and its result after it; daily stats and "
            "alerts are computed, and each next morning the controller promotes (10 % → 50 % → 100 %) after "
            f"3 healthy days (health judged over the last {HEALTH_WINDOW_DAYS} days at the stage), holds, or "
            "rolls back.",
        ),
        5: (
            "Once more with a degraded challenger",
            "An ensemble fitted on shuffled labels (it learned nothing) is registered as the challenger "
            "and rolled out at 10 %. The controller should roll it back on its own and tell the webhook "
            f"receiver listening on {receiver_url}.",
        ),
        6: (
            "Write the reports",
            "The monitor's trend report, then one page linking the backtests, the monitor, each day's "
            "controller decision, the rollout history and the verified audit log.",
        ),
    }


class RacesScenario:
    """The races domain of the demo (see the module docstring)."""

    domain = Domain.RACES
    register_note = ""
    unit = "race"
    health_policy: str | None = None
    default_days = 21

    def check_days(self, days: int) -> None:
        """Every ``days`` in the demo's range can be simulated."""

    def step_text(self, number: int, days: int, receiver_url: str) -> tuple[str, str]:
        return _step_texts(days, receiver_url)[number]

    def load(self, root: Path, days: int, seed: int) -> LiveData:
        from stagewise.data import simulate_races

        live_start = _FIRST_DAY + pd.Timedelta(days=TRAIN_DAYS)
        last = live_start + pd.Timedelta(days=2 * days - 1)
        races = simulate_races(_FIRST_DAY, last, seed=seed)
        races.to_parquet(root / "data" / "races.parquet")
        history = races.loc[races["race_date"] < live_start]
        live = races.loc[races["race_date"] >= live_start]
        live_days = sorted(live["race_date"].unique())
        return LiveData(
            history=history,
            good=live.loc[live["race_date"].isin(live_days[:days])],
            degraded=live.loc[live["race_date"].isin(live_days[days:])],
            first_live=live_start.date(),
            last_live=last.date(),
            summary=f"{history['race_id'].nunique():,} races to learn from, "
            f"{live['race_id'].nunique():,} live races.",
        )

    def candidates(self, model_params: EnsembleParams | None) -> dict[str, EnsembleParams]:
        params = (DEMO_MODEL if model_params is None else model_params).copy()
        challenger: EnsembleParams = {**params, "weights": CHALLENGER_WEIGHTS}
        return {"champion": params, "challenger": challenger}

    def train(self, history: pd.DataFrame, params: EnsembleParams, seed: int) -> TrainingReport:
        from stagewise.models.training import train_races

        return train_races(history, days=TRAIN_DAYS, model_params=params, random_state=seed)

    def model_info(self, report: TrainingReport, version: str, notes: str) -> dict[str, Any]:
        scores = {s.name: s for s in report.scores}
        ensemble = scores["Ensemble"]
        return {
            "version": version,
            "win": ensemble.value,
            "low": ensemble.low,
            "high": ensemble.high,
            "lane": scores["lane order 1-2-3"].value if "lane order 1-2-3" in scores else None,
            "oracle": scores["oracle"].value if "oracle" in scores else None,
            "notes": notes,
        }

    def training_note(self, name: str, report: TrainingReport) -> str:
        scores = {s.name: s for s in report.scores}
        return (
            f"{name}: held-out win hit {scores['Ensemble'].value:.1%} "
            f"[{scores['Ensemble'].low:.1%}, {scores['Ensemble'].high:.1%}] "
            f"(lane order {scores['lane order 1-2-3'].value:.1%}, oracle {scores['oracle'].value:.1%})"
        )

    def backtest_plan(self, history: pd.DataFrame) -> BacktestPlan:
        back, train_days, test_days, step_days = BACKTEST_WINDOW
        end = pd.Timestamp(history["race_date"].max())
        steps = math.ceil((back + 1) / step_days)
        return BacktestPlan(end - pd.Timedelta(days=back), end, train_days, test_days, step_days, steps)

    def backtest_entry(
        self, name: str, result: Mapping[str, Any], out_dir: Path
    ) -> tuple[str, dict[str, Any]]:
        summary = result["summary"]
        note = (
            f"{name}: {summary['total_steps']} steps, {summary['total_races']:,} test races, "
            f"win hit {summary['overall_hit_rate_1st']:.1%}, "
            f"trifecta {summary['overall_hit_rate_top3']:.1%}, "
            f"score accuracy {summary['overall_score_accuracy']:.3f} → {out_dir / name}"
        )
        return note, {"summary": summary, "outputs": {k: str(v) for k, v in result["outputs"].items()}}

    def fit_degraded(self, history: pd.DataFrame, params: EnsembleParams, seed: int) -> ProductionEnsemble:
        """A real ensemble that learned nothing: the winners were shuffled across all boats first."""
        from stagewise.features.races import race_entry_features
        from stagewise.models import ProductionEnsemble

        labels = (history["finish_position"] == 1).fillna(False).astype(int).to_numpy()
        shuffled = np.random.default_rng(seed + 7).permutation(labels)
        model = ProductionEnsemble(random_state=seed, **params)
        model.fit(race_entry_features(history), shuffled)
        return model

    def degraded_info(self) -> tuple[str, dict[str, Any]]:
        info = {"win": None, "low": None, "high": None, "notes": "fitted on shuffled labels"}
        return "demo: degraded on purpose (shuffled labels)", info

    def prepare_monitor(self, monitor: PerformanceMonitor, data: LiveData) -> None:
        """Log the feature sample of the last :data:`REFERENCE_DAYS` training days, the reference that
        drift (``monitor drift``, the dashboard) compares the live days with."""
        from stagewise.features.races import race_entry_features

        history = data.history
        days = sorted(history["race_date"].unique())[-REFERENCE_DAYS:]
        for day_value, frame in history.loc[history["race_date"].isin(days)].groupby("race_date", sort=True):
            day = pd.Timestamp(str(day_value)).date()
            monitor.log_features(day, race_entry_features(frame), max_rows_per_day=FEATURE_SAMPLE_PER_DAY)

    def days_in(self, frame: pd.DataFrame) -> int:
        return int(frame["race_date"].nunique())

    def replay(
        self,
        frame: pd.DataFrame,
        feature: str,
        deployment: Deployment,
        models: tuple[ServedModel, ServedModel],
        on_day: Callable[[DayOutcome], None],
        days_after_rollback: int | None,
    ) -> list[DayOutcome]:
        return replay_days(
            frame,
            rollout=deployment.rollout,
            monitor=deployment.monitor,
            feature=feature,
            champion=models[0],
            challenger=models[1],
            clock=deployment.set_clock,
            notifiers=[deployment.notifier],
            on_day=on_day,
            days_after_rollback=days_after_rollback,
            health_window_days=HEALTH_WINDOW_DAYS,
            feature_sample_per_day=FEATURE_SAMPLE_PER_DAY,
            cohort_alerts=True,
        )

    def day_line(self, day: DayOutcome) -> str:
        return races_report.day_line(day)

    def not_rolled_back(self, outcomes: Sequence[DayOutcome], days: int) -> list[str]:
        return []

    def write_monitor_report(
        self, monitor: PerformanceMonitor, data: LiveData, out_dir: Path
    ) -> dict[str, Path]:
        n_days = (data.last_live - data.first_live).days + 1
        return monitor.generate_report(n_days, out_dir / "monitor.txt", end_date=data.last_live)

    def closing_notes(self, days: Sequence[str]) -> list[str]:
        if not days:
            return []
        return [
            f"Feature drift of the last live week: stagewise monitor drift --end-date {max(days)} --no-alert"
        ]

    def models_table(self, models: Mapping[str, Mapping[str, Any]]) -> str:
        return races_report.models_table(models)

    def backtests_table(self, backtests: Mapping[str, Mapping[str, Any]], base: Path) -> str:
        return races_report.backtests_table(backtests, base)

    def day_table(self, outcomes: Sequence[DayOutcome]) -> str:
        return races_report.day_table(outcomes)
