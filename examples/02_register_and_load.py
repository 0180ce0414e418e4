"""Train the seed's ensemble on real EURUSD bars, store it without pickle, load it back, roll back.

What it teaches
---------------
* ``TechnicalIndicators().generate_all_features(bars)`` gives the seed's 12 features in its order, and
  ``ProductionEnsemble`` is its LightGBM 0.4 / XGBoost 0.4 / RandomForest 0.2 soft vote, with
  ``get_model_info()`` returning the seed's keys.
* ``ModelRegistry`` replaces ``pickle.load(open("models/production/production_ensemble.pkl", "rb"))``:
  ``save`` writes a version (LightGBM text, XGBoost UBJSON, skops, a SHA-256 manifest),
  ``promote`` makes it production, ``load("production")`` checks every byte before building anything.
* The seed's metadata files (``production_model_metadata.json`` ...) are still written.
* A wrong feature count is a clear ``FeatureMismatchError``; a changed file is an
  ``ArtifactIntegrityError``; ``rollback`` goes one step back.

Run it::

    .venv/bin/python examples/02_register_and_load.py [WORKDIR]

Everything is written under WORKDIR/models (default: a new temporary directory). About 10 s.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from stagewise import (
    ArtifactIntegrityError,
    FeatureMismatchError,
    ModelRegistry,
    ProductionEnsemble,
    TechnicalIndicators,
)
from stagewise.data import bundled_bars
from stagewise.features import drop_warmup, next_bar_direction

SMALL_MODEL = {family: {"n_estimators": 20} for family in ("lgbm_params", "xgb_params", "rf_params")}


def main(workdir: Path) -> None:
    bars = bundled_bars("EURUSD").iloc[:2000]  # real hourly bars shipped with backtesting.py
    features = drop_warmup(TechnicalIndicators().generate_all_features(bars))
    labels = next_bar_direction(bars).loc[features.index]
    known = labels.notna()  # the last bar has no next close yet
    X, y = features[known], labels[known].astype(int)
    X_train, y_train, X_new = X.iloc[:1500], y.iloc[:1500], X.iloc[1500:]

    model = ProductionEnsemble(**SMALL_MODEL).fit(X_train, y_train)
    info = model.get_model_info()
    print(f"{info['type']}: {info['n_features']} features, weights {info['weights']}")

    registry = ModelRegistry(workdir / "models")
    first = registry.save(model, data_window=(X_train.index[0], X_train.index[-1]), notes="example 02")
    registry.promote(first)
    loaded = registry.load("production")  # every file checked against the manifest first
    same = np.array_equal(loaded.predict_proba(X_new), model.predict_proba(X_new))
    print(f"saved and promoted {first}; loaded predictions identical: {same}")

    metadata = json.loads((workdir / "models/production/production_model_metadata.json").read_text())
    print(f"production_model_metadata.json: version {metadata['version']}, status {metadata['status']}")

    try:
        loaded.predict(X_new.to_numpy()[:, :10])
    except FeatureMismatchError as error:
        print(f"FeatureMismatchError: {str(error)[:60]}...")

    second = registry.save(ProductionEnsemble(random_state=1, **SMALL_MODEL).fit(X_train, y_train))
    registry.promote(second)
    registry.rollback()
    print(f"promoted {second}, rolled back: production is {registry.resolve('production')} again")

    damaged = workdir / "models" / "training" / second / "xgboost_model.ubj"
    damaged.write_bytes(damaged.read_bytes() + b"\0")
    try:
        registry.load(second)
    except ArtifactIntegrityError as error:
        print(f"ArtifactIntegrityError: {str(error)[:70]}...")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="stagewise-example-"))
    main(target)
