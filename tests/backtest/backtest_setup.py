"""Constants and data makers shared by the backtest suites (imported by name: tests have no package)."""

from __future__ import annotations

import pandas as pd

SMALL_MODEL = {
    "lgbm_params": {"n_estimators": 10},
    "xgb_params": {"n_estimators": 10},
    "rf_params": {"n_estimators": 10},
}
SEED_WINDOWS = {
    "start_date": "2025-11-01",
    "end_date": "2025-11-17",
    "train_days": 14,
    "test_days": 3,
    "step_days": 3,
}


def simulate(start: str, end: str, seed: int = 0, venues: list[int] | None = None) -> pd.DataFrame:
    from stagewise.data import simulate_races

    frame: pd.DataFrame = simulate_races(start, end, seed=seed, venues=venues)
    return frame
