"""Small data sets shared by the backtest suites (a few simulated weeks, small ensembles)."""

from __future__ import annotations

import pandas as pd
import pytest

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
    try:
        from stagewise.data import simulate_races  # type: ignore[attr-defined]
    except ImportError:  # until the data package re-exports it
        from stagewise.data.races.simulator import simulate_races
    frame: pd.DataFrame = simulate_races(start, end, seed=seed, venues=venues)
    return frame


@pytest.fixture(scope="session")
def small_races() -> pd.DataFrame:
    """Four venues from 2025-10-18 to 2025-11-17: enough for the seed's 14/3/3 example."""
    return simulate("2025-10-18", "2025-11-17", seed=0, venues=[1, 2, 3, 4])


@pytest.fixture(scope="session")
def small_bars() -> pd.DataFrame:
    from stagewise.data import synthetic_bars

    return synthetic_bars(24 * 60, freq="1h", seed=3)
