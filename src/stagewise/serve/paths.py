"""Which path serves a model: the compiled fast path, if it proves exact at load, else the library.

:func:`choose_path` compiles what the fast path can read (the ProductionEnsemble, a single
LightGBM or XGBoost model, the win model of a race model) and then scores generated rows with both
paths: rows built from every split value of every tree, the float64 values just either side, the
float32 roundings XGBoost and scikit-learn compare, NaN where the signature allows it, and random
values in the splits' range. If the largest |fast - library| is at most :data:`TOLERANCE` the fast
path serves; otherwise (or when nothing can be compiled) the library does, and the reason says why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from stagewise._exceptions import ConfigError
from stagewise.models.flavours import Flavour
from stagewise.serve.fast import FastEnsemble, compile_ensemble
from stagewise.serve.inference import ProbaModel

__all__ = ["FAST", "LIBRARY", "TOLERANCE", "ServingPath", "choose_path", "compile_flavour"]

FAST = "fast"
LIBRARY = "library"
#: Largest |fast - library| over the generated rows for the fast path to serve.
TOLERANCE = 1e-6

_SPLIT_FEATURE = re.compile(r"^split_feature=(.*)$", re.MULTILINE)
_THRESHOLD = re.compile(r"^threshold=(.*)$", re.MULTILINE)

Unchecked = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, slots=True)
class ServingPath:
    """How one model is served: ``scorer`` reads a signature-checked float64 matrix."""

    scorer: ProbaModel
    path: str
    reason: str
    max_abs_diff: float | None = None


class _Library:
    """The library's own scoring of an already checked matrix."""

    def __init__(self, predict: Unchecked) -> None:
        self._predict = predict

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._predict(np.asarray(X, dtype=np.float64))


def _unchecked(flavour: Flavour) -> Unchecked:
    """The model's library predict, without the signature check (rows are checked before)."""
    name = flavour.name
    if name == "race":
        return _unchecked(flavour.win_)  # type: ignore[attr-defined]
    if name == "ensemble":
        return flavour.model_.predict_proba  # type: ignore[attr-defined, no-any-return]
    if name == "lightgbm":
        booster = flavour.booster_  # type: ignore[attr-defined]

        def lightgbm(X: np.ndarray) -> np.ndarray:
            p = np.asarray(booster.predict(X, num_threads=1), dtype=np.float64)
            return np.column_stack([1.0 - p, p])

        return lightgbm
    if name == "xgboost":
        xgb_booster = flavour.booster_  # type: ignore[attr-defined]

        def xgboost(X: np.ndarray) -> np.ndarray:
            p = np.asarray(xgb_booster.inplace_predict(X, validate_features=False), dtype=np.float64)
            return np.column_stack([1.0 - p, p])

        return xgboost
    return flavour.predict_proba


def compile_flavour(flavour: Flavour) -> tuple[FastEnsemble, Unchecked]:
    """The compiled model and the library predict it must match.

    Raises
    ------
    ConfigError
        The flavour has no compiled path (scikit-learn, blends), or its model uses settings the
        fast path cannot reproduce (see docs/fast-inference.md).
    """
    from stagewise.serve._tree_tables import lightgbm_trees, xgboost_trees

    if flavour.name == "race":
        return compile_flavour(flavour.win_)  # type: ignore[attr-defined]
    library = _unchecked(flavour)
    if flavour.name == "ensemble":
        return compile_ensemble(flavour.model_), library  # type: ignore[attr-defined]
    if flavour.name in ("lightgbm", "xgboost"):
        reader = lightgbm_trees if flavour.name == "lightgbm" else xgboost_trees
        weights = {"lightgbm": 0.0, "xgboost": 0.0, "random_forest": 0.0, flavour.name: 1.0}
        families = [reader(flavour.booster_)]  # type: ignore[attr-defined]
        names = flavour.signature_.names
        classes = np.asarray(getattr(flavour, "classes_", np.array([0, 1])))
        return FastEnsemble(families, weights, names, classes, _Library(library)), library
    raise ConfigError(f"no compiled path for the {flavour.name} flavour; the library serves it")


def split_points(fast: FastEnsemble, flavour: Flavour) -> dict[int, np.ndarray]:
    """Every split value of every compiled tree, by feature index."""
    found: dict[int, list[float]] = {}
    for family in fast._families:
        for tree in family.trees:
            features, thresholds = _SPLIT_FEATURE.search(tree), _THRESHOLD.search(tree)
            if features is None or thresholds is None:
                continue  # a one-leaf tree
            for f, t in zip(features.group(1).split(), thresholds.group(1).split(), strict=True):
                found.setdefault(int(f), []).append(float(t))
    forest = getattr(getattr(flavour, "model_", None), "random_forest_", None)
    if forest is not None and fast._forest is not None:
        for estimator in forest.estimators_:
            tree = estimator.tree_
            inner = tree.feature >= 0
            for f, t in zip(tree.feature[inner].tolist(), tree.threshold[inner].tolist(), strict=True):
                found.setdefault(int(f), []).append(float(t))
    return {f: np.unique(np.asarray(v, dtype=np.float64)) for f, v in found.items()}


def check_rows(
    splits: dict[int, np.ndarray], flavour: Flavour, n_rows: int = 256, seed: int = 0
) -> np.ndarray:
    """Rows for the exactness check: split values, their float64 and float32 neighbours, NaN, noise."""
    rng = np.random.default_rng(seed)
    specs = flavour.signature_.features
    rows = np.empty((n_rows, len(specs)), dtype=np.float64)
    for j, spec in enumerate(specs):
        points = splits.get(j, np.zeros(1))
        up, down = np.nextafter(points, np.inf), np.nextafter(points, -np.inf)
        as32 = points.astype(np.float32)
        near32 = np.concatenate(
            [as32, np.nextafter(as32, np.float32(np.inf)), np.nextafter(as32, np.float32(-np.inf))]
        ).astype(np.float64)
        pool = np.concatenate([points, up, down, near32])
        pool = pool[np.isfinite(pool)]
        low, high = float(points.min()), float(points.max())
        spread = max(high - low, 1.0)
        noise = rng.uniform(low - 0.1 * spread, high + 0.1 * spread, size=n_rows)
        chosen = rng.choice(pool, size=n_rows) if pool.size else noise
        column = np.where(rng.random(n_rows) < 0.8, chosen, noise)
        if spec.allow_nan:
            column[rng.random(n_rows) < 0.05] = np.nan
        rows[:, j] = column
    return rows


def choose_path(flavour: Flavour, *, n_rows: int = 256, seed: int = 0) -> ServingPath:
    """Compile ``flavour`` and keep the compiled path only if it matches the library on check rows."""
    library = _Library(_unchecked(flavour))
    try:
        fast, predict = compile_flavour(flavour)
    except ConfigError as exc:
        return ServingPath(library, LIBRARY, str(exc))
    rows = check_rows(split_points(fast, flavour), flavour, n_rows, seed)
    # the single-row path (what a request uses) row by row, and the batch path
    single = np.vstack([fast.predict_proba(row[None, :]) for row in rows[:64]])
    diff = max(
        float(np.max(np.abs(single - predict(rows[:64])))),
        float(np.max(np.abs(fast.predict_proba(rows) - predict(rows)))),
    )
    if not diff <= TOLERANCE:
        return ServingPath(
            library, LIBRARY, f"exactness check failed: max |fast - library| {diff:.3g} > {TOLERANCE:g}", diff
        )
    return ServingPath(
        fast, FAST, f"exactness check passed: max |fast - library| {diff:.3g} over {n_rows} rows", diff
    )
