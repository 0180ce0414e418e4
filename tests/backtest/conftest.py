"""Small data sets shared by the backtest suites (a few simulated weeks, small ensembles)."""

from __future__ import annotations

import pandas as pd
import pytest
from backtest_setup import SEED_WINDOWS, SMALL_MODEL, simulate  # noqa: F401 - re-exported for the suites


@pytest.fixture(scope="session")
def small_races() -> pd.DataFrame:
    """Four venues from 2025-10-18 to 2025-11-17: enough for the seed's 14/3/3 example."""
    return simulate("2025-10-18", "2025-11-17", seed=0, venues=[1, 2, 3, 4])


@pytest.fixture(scope="session")
def small_bars() -> pd.DataFrame:
    from stagewise.data import synthetic_bars

    return synthetic_bars(24 * 60, freq="1h", seed=3)
