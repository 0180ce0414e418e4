"""Small, fast data and models shared by the models suites."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from models_support import TINY, StepClock, make_xy

from stagewise.models import ModelRegistry, ProductionEnsemble


@pytest.fixture(scope="session")
def market_xy() -> tuple[pd.DataFrame, np.ndarray]:
    return make_xy()


@pytest.fixture(scope="session")
def fitted(market_xy: tuple[pd.DataFrame, np.ndarray]) -> ProductionEnsemble:
    X, y = market_xy
    return ProductionEnsemble(**TINY).fit(X, y)


@pytest.fixture(scope="session")
def saved_root(tmp_path_factory: pytest.TempPathFactory, fitted: ProductionEnsemble) -> tuple[Path, str]:
    """A registry with one saved (not promoted) version; copy it before changing anything."""
    root = tmp_path_factory.mktemp("registry") / "models"
    version = ModelRegistry(root, clock=StepClock()).save(
        fitted, metrics={"lightgbm_f1": 0.61, "ensemble_f1": 0.63}, data_window=("2025-01-01", "2025-06-30")
    )
    return root, version


@pytest.fixture
def registry_copy(saved_root: tuple[Path, str], tmp_path: Path) -> tuple[ModelRegistry, str]:
    """A private copy of ``saved_root`` that a test may tamper with."""
    root, version = saved_root
    target = tmp_path / "models"
    shutil.copytree(root, target)
    return ModelRegistry(target, clock=StepClock(datetime(2026, 2, 1, tzinfo=UTC))), version
