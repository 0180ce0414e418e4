"""The dashboard suites' workspace: a real ledger, rollout config, registry and backtest."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

DAYS = [date(2025, 11, 4), date(2025, 11, 5), date(2025, 11, 6)]
# Winner hits per day out of 12 races: bad, good, bad -> an alert fires, resolves, fires again.
WIN_HITS = {DAYS[0]: 1, DAYS[1]: 10, DAYS[2]: 1}
RACES_PER_DAY = 12
SMALL = {"n_estimators": 5}


@dataclass(frozen=True)
class Workspace:
    db: Path | str  # a SQLite file or a database URL
    config: Path
    models: Path
    backtest_dir: Path

    def env(self) -> dict[str, str]:
        return {
            "STAGEWISE_DASHBOARD_DB": str(self.db),
            "STAGEWISE_DASHBOARD_CONFIG": str(self.config),
            "STAGEWISE_DASHBOARD_MODELS": str(self.models),
            "STAGEWISE_DASHBOARD_BACKTEST_DIR": str(self.backtest_dir),
        }


def build_ledger(db: Path | str) -> None:
    from stagewise.monitor import PerformanceMonitor

    with PerformanceMonitor(str(db), notifiers=[]) as monitor:
        for day in DAYS:
            for number in range(1, RACES_PER_DAY + 1):
                hit = number <= WIN_HITS[day]
                # predicted 1-2-3-4-5-6; the winner is pit 1 on a hit, else pit 2 (and 1 second)
                finish = [1, 2, 3, 4, 5, 6] if hit else [2, 1, 3, 4, 5, 6]
                if number % 4 == 0:
                    finish = [*finish[:2], finish[3], finish[2], *finish[4:]]
                monitor.log_prediction(
                    race_id=f"{day:%Y%m%d}01{number:02d}", race_date=day, venue_code=1,
                    race_number=number, predictions=[1, 2, 3, 4, 5, 6],
                    actual_results=[{"pit_number": p, "rank": r} for r, p in enumerate(finish, 1)],
                    integration_mode="DYNAMIC", feature_flags={},
                )  # fmt: skip
            monitor.check_alerts(day)
        rng = np.random.default_rng(0)
        for offset in range(34, -1, -1):
            day = DAYS[-1] - timedelta(days=offset)
            shift = 2.0 if offset < 7 else 0.0  # the last 7 days drift in "exhibition_time" only
            frame = pd.DataFrame(
                {"exhibition_time": rng.normal(6.7 + shift, 0.1, 60), "motor_2rate": rng.normal(35, 5, 60)}
            )
            monitor.log_features(day, frame)


def build_rollout(config: Path) -> None:
    from stagewise.rollout import GradualRollout

    with GradualRollout(config, refresh_interval=0, actor="tester") as rollout:
        rollout.add_feature("calib_v2", "10%", reason="canary after backtest")
        rollout.update_rollout_stage("calib_v2", "50%", reason="a healthy week")
        rollout.add_feature("dynamic_integration", "disabled", reason="not yet")


def build_registry(models: Path) -> None:
    from stagewise.models import ModelRegistry, ProductionEnsemble

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    y = (X["a"] + rng.normal(0, 0.5, 120) > 0).astype(int)
    registry = ModelRegistry(models)
    params = {"lgbm_params": SMALL, "xgb_params": SMALL, "rf_params": SMALL}
    champion = registry.save(ProductionEnsemble(**params).fit(X, y), metrics={"ensemble_f1": 0.61},
                             data_window=("2025-10-01", "2025-10-31"))  # fmt: skip
    registry.promote(champion)
    window = ("2025-10-01", "2025-10-31")
    challenger = registry.save(ProductionEnsemble(random_state=1, **params).fit(X, y),
                               metrics={"ensemble_f1": 0.63}, data_window=window)  # fmt: skip
    registry.set_alias("challenger", challenger)


def build_backtest(out: Path) -> None:
    from stagewise.backtest import WalkForwardBacktest
    from stagewise.data import simulate_races

    races = simulate_races("2025-10-20", "2025-11-06", seed=0)
    params = {"lgbm_params": SMALL, "xgb_params": SMALL, "rf_params": SMALL}
    backtest = WalkForwardBacktest(data=races, model_params=params, n_workers=1, html=False, n_resamples=200)
    backtest.run_walkforward(start_date="2025-11-01", end_date="2025-11-06", train_days=7, test_days=3,
                             step_days=3, output_dir=str(out))  # fmt: skip


def sql(db: Path, query: str, *args: object) -> list[tuple[object, ...]]:
    """Read the ledger with plain sqlite3 (independent of the library)."""
    with sqlite3.connect(db) as conn:
        return list(conn.execute(query, args).fetchall())
