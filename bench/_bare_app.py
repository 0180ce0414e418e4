"""The peer of ``serve-load``: a bare FastAPI endpoint that calls the same model on the same payload.

No routing, no validation beyond JSON parsing, no ledger, no metrics, no middleware: the request's
six entries become the model's 18 race features with numpy (the formulas of
:func:`stagewise.features.races.race_entry_features` for one race), the champion's compiled scorer
(the path ``stagewise serve`` chooses) scores them, and the answer is the predicted order with
scores and win probabilities. ``bench_serve.py`` checks that it answers exactly what the server
answers for the same race before timing either.

Run by the bench: ``uvicorn _bare_app:create --factory --app-dir bench`` with ``STAGEWISE_BARE_MODELS``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from fastapi import Body, FastAPI

from stagewise.features.races import CLASS_CODES, RACE_FEATURE_NAMES

_INPUTS = ("national_win_rate", "local_win_rate", "motor_2rate", "boat_2rate", "exhibition_time")


def _rank(x: np.ndarray) -> np.ndarray:
    below = (x[None, :] < x[:, None]).sum(axis=1)
    tied = (x[None, :] == x[:, None]).sum(axis=1)
    return np.asarray(below + (tied + 1) / 2.0, dtype=np.float64)


def features(body: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(X, pits)`` of one race: the 18 race features in the model's order."""
    entries = body["entries"]
    col = {name: np.array([e[name] for e in entries], dtype=np.float64) for name in _INPUTS}
    col["avg_start_timing"] = np.array([e["avg_start_timing"] for e in entries], dtype=np.float64)
    col["pit"] = np.array([e["pit"] for e in entries], dtype=np.float64)
    col["venue_code"] = np.full(len(entries), float(body["venue_code"]))
    col["class_code"] = np.array([float(CLASS_CODES[e["racer_class"]]) for e in entries])
    for name in ("national_win_rate", "local_win_rate", "motor_2rate", "class_code", "exhibition_time"):
        col[f"{name}_rel"] = col[name] - col[name].mean()
    col["avg_start_timing_rel"] = col["avg_start_timing"] - col["avg_start_timing"].mean()
    col["national_win_rate_rank"] = _rank(-col["national_win_rate"])
    col["exhibition_time_rank"] = _rank(col["exhibition_time"])
    col["avg_start_timing_rank"] = _rank(col["avg_start_timing"])
    X = np.ascontiguousarray(np.column_stack([col[n] for n in RACE_FEATURE_NAMES]))
    return X, col["pit"].astype(np.int64)


def create() -> FastAPI:
    from stagewise.models import ModelRegistry
    from stagewise.serve.paths import choose_path

    registry = ModelRegistry(os.environ["STAGEWISE_BARE_MODELS"])
    flavour = registry.load_flavour(registry.resolve("champion"), n_jobs=1)
    scorer = choose_path(flavour).scorer
    app = FastAPI()

    @app.post("/v1/races/predict")
    def predict(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008 (FastAPI's idiom)
        X, pits = features(body)
        scores = np.asarray(scorer.predict_proba(X), dtype=np.float64)[:, 1]
        order = np.lexsort((pits, -scores))
        total = float(scores.sum())
        prob = scores / total if total > 0 else np.full(len(scores), 1.0 / len(scores))
        return {
            "race_id": body["race_id"],
            "predicted_order": [int(pits[i]) for i in order],
            "scores": [float(scores[i]) for i in order],
            "win_prob": [float(prob[i]) for i in order],
        }

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ok"}

    return app
