"""Race fixtures: one simulated year per test session (about 5 s), shared by every race suite."""

from __future__ import annotations

import pandas as pd
import pytest

from stagewise.data import CalibrationFigures, calibration_figures, simulate_races


@pytest.fixture(scope="session")
def race_year() -> pd.DataFrame:
    """Every race of 2025 at the 24 venues, seed 0 (the figures in docs/data-races.md)."""
    return simulate_races("2025-01-01", "2025-12-31", seed=0)


@pytest.fixture(scope="session")
def race_year_figures(race_year: pd.DataFrame) -> CalibrationFigures:
    return calibration_figures(race_year)


@pytest.fixture
def one_day() -> pd.DataFrame:
    """The 12 races of 2025-01-01 at Omura (venue 24): a small valid data set to break."""
    return simulate_races("2025-01-01", "2025-01-01", seed=0, venues=[24])
