"""Validation of ProductionEnsemble parameters: weights, seed, threads, per-family settings.

Every check raises :class:`~stagewise.ConfigError` naming the parameter, the bad value
and what is accepted. Nothing here is clamped or repaired silently.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from numbers import Real
from typing import Any

from stagewise._exceptions import ConfigError

__all__ = [
    "DEFAULT_WEIGHTS",
    "FAMILIES",
    "FAMILY_DEFAULTS",
    "RESERVED_PARAMS",
    "resolve_threads",
    "validate_family_params",
    "validate_n_jobs",
    "validate_random_state",
    "validate_weights",
]

#: The three model families, in the order the seed lists them.
FAMILIES: tuple[str, str, str] = ("lightgbm", "xgboost", "random_forest")

#: The seed's weights: LightGBM 0.4, XGBoost 0.4, RandomForest 0.2.
DEFAULT_WEIGHTS: dict[str, float] = {"lightgbm": 0.4, "xgboost": 0.4, "random_forest": 0.2}

#: Settings each family starts from; ``lgbm_params`` etc. are merged over these.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "lightgbm": {
        "n_estimators": 100,
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_child_samples": 20,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    },
    "xgboost": {
        "n_estimators": 100,
        "learning_rate": 0.05,
        "max_depth": 6,
        "tree_method": "hist",
        "eval_metric": "logloss",
    },
    "random_forest": {"n_estimators": 100, "min_samples_leaf": 2},
}

#: Keys the ensemble controls itself: the seed comes from ``random_state`` and the
#: task is always binary classification.
RESERVED_PARAMS: frozenset[str] = frozenset(
    {"random_state", "seed", "random_seed", "objective", "num_class", "class_weight_mode"}
)


def validate_weights(weights: Mapping[str, Any] | None) -> dict[str, float]:
    """Check the vote weights and return them normalised to sum 1.

    Keys must be exactly ``lightgbm``, ``xgboost`` and ``random_forest``; each value a
    finite real number >= 0; their sum > 0.

    Examples
    --------
    >>> validate_weights({"lightgbm": 2, "xgboost": 2, "random_forest": 1})
    {'lightgbm': 0.4, 'xgboost': 0.4, 'random_forest': 0.2}
    """
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    if not isinstance(weights, Mapping):
        raise ConfigError(
            f"The 'weights' parameter must be a mapping with keys {list(FAMILIES)}; "
            f"got {type(weights).__name__} {weights!r}."
        )
    keys = set(weights)
    if keys != set(FAMILIES):
        missing = [k for k in FAMILIES if k not in keys]
        unknown = sorted(str(k) for k in keys - set(FAMILIES))
        raise ConfigError(
            f"The 'weights' parameter must have exactly the keys {list(FAMILIES)}; "
            f"missing {missing}, unknown {unknown} in {dict(weights)!r}."
        )
    for name in FAMILIES:
        value = weights[name]
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ConfigError(f"weights[{name!r}] must be a real number >= 0; got {value!r}.")
        if not math.isfinite(float(value)) or float(value) < 0:
            raise ConfigError(f"weights[{name!r}] must be a finite number >= 0; got {value!r}.")
    total = math.fsum(float(weights[name]) for name in FAMILIES)
    if total <= 0:
        raise ConfigError(f"The 'weights' must not all be zero; got {dict(weights)!r}.")
    return {name: float(weights[name]) / total for name in FAMILIES}


def validate_random_state(random_state: Any) -> int:
    """``random_state`` must be an int in [0, 2**31 - 1] (LightGBM's seed is a 32-bit int)."""
    if isinstance(random_state, bool) or not isinstance(random_state, int) or not 0 <= random_state < 2**31:
        raise ConfigError(
            f"The 'random_state' parameter of ProductionEnsemble must be an int in [0, 2147483647]. "
            f"Got {random_state!r}."
        )
    return int(random_state)


def validate_n_jobs(n_jobs: Any, field: str = "n_jobs") -> int:
    """``n_jobs`` must be an int >= 1, or -1 for every core."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or not (n_jobs >= 1 or n_jobs == -1):
        raise ConfigError(
            f"The '{field}' parameter must be an int >= 1, or -1 for all cores. Got {n_jobs!r}."
        )
    return int(n_jobs)


def resolve_threads(n_jobs: int) -> int:
    """The thread count ``n_jobs`` stands for on this machine."""
    return os.cpu_count() or 1 if n_jobs == -1 else n_jobs


def validate_family_params(field: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check one family's extra settings (``lgbm_params``, ``xgb_params`` or ``rf_params``).

    They must be a mapping from str to JSON values (so the registry can store them), must
    not set a reserved key, and an ``n_jobs`` in them must itself be valid.
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ConfigError(f"The '{field}' parameter must be a dict or None; got {type(params).__name__}.")
    out: dict[str, Any] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise ConfigError(f"The '{field}' keys must be strings; got {key!r}.")
        if key in RESERVED_PARAMS:
            raise ConfigError(
                f"{field}[{key!r}] cannot be set: the ensemble controls it (use random_state for the seed; "
                f"the task is always binary classification). Reserved keys: {sorted(RESERVED_PARAMS)}."
            )
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{field}[{key!r}] must be a JSON value (number, string, bool, null, list, dict) so that it "
                f"can be stored with the model; got {value!r}."
            ) from None
        if key == "n_jobs":
            validate_n_jobs(value, f"{field}['n_jobs']")
        out[key] = value
    return out
