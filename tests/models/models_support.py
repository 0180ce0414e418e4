"""Data and settings shared by the models suites (imported as a plain module)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stagewise.models._features import SEED_FEATURE_NAMES

#: Few, shallow trees: enough to make every family matter, fast enough for every test.
TINY: dict[str, Any] = {
    "lgbm_params": {"n_estimators": 8, "num_leaves": 7},
    "xgb_params": {"n_estimators": 8, "max_depth": 3},
    "rf_params": {"n_estimators": 6, "max_depth": 5},
}


def make_xy(n: int = 400, n_features: int = 12, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y = (X[:, 0] + 0.7 * X[:, 1] - 0.5 * X[:, 2] + rng.normal(scale=0.8, size=n) > 0).astype(np.int64)
    names = list(SEED_FEATURE_NAMES) if n_features == 12 else [f"f{i}" for i in range(n_features)]
    return pd.DataFrame(X, columns=names), y


class StepClock:
    """A clock for tests: starts at ``start`` and moves ``step_seconds`` on every call."""

    def __init__(
        self, start: datetime = datetime(2026, 1, 22, 10, 15, tzinfo=UTC), step_seconds: int = 60
    ) -> None:
        self.now = start
        self.step = timedelta(seconds=step_seconds)

    def __call__(self) -> datetime:
        current = self.now
        self.now = current + self.step
        return current


FROZEN = datetime(2026, 1, 22, 10, 15, tzinfo=UTC)


def frozen_clock() -> datetime:
    """Every process gets the same second: version ids must still be distinct."""
    return FROZEN


def save_in_child(root: str, model: Any, barrier: Any, results: Any) -> None:
    """Process body for the concurrency test: wait for the other process, then save."""
    from stagewise.models import ModelRegistry

    barrier.wait(timeout=60)
    results.put(ModelRegistry(root, clock=frozen_clock).save(model))


def crash_while_saving(root: str, model: Any) -> None:
    """Process body: die (no cleanup, like a power cut) after writing two files of a version."""
    import os

    from stagewise import _atomic
    from stagewise.models import ModelRegistry

    real = _atomic._write_synced
    written: list[Path] = []

    def write_then_die(path: Path, data: bytes) -> None:
        real(path, data)
        written.append(path)
        if len(written) == 2:
            os._exit(3)

    _atomic._write_synced = write_then_die  # type: ignore[assignment]
    ModelRegistry(root, clock=frozen_clock).save(model)
