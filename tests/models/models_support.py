"""Data and settings shared by the models suites (imported as a plain module)."""

from __future__ import annotations

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
