"""The metadata JSON of a model version, and the seed's summary files built from it.

Each version directory holds ``metadata.json`` (immutable, covered by the manifest)
with the seed's fields — ``created_at``, ``model_type``, ``n_features``,
``feature_names``, ``individual_models``, ``model_weights``, ``performance_metrics`` —
plus ``version``, ``format_version``, ``data_window``, ``random_seed``,
``library_versions`` and ``notes``.

The registry also keeps the seed's three summary files up to date (derived views,
rewritten after every change, never read back to load a model):

* ``training/training_metadata.json`` — the newest training run, seed shape;
* ``production/production_model_metadata.json`` — the production model, seed shape;
* ``production/model_metadata.json`` — the legacy file of the seed.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError
from stagewise._version import __version__
from stagewise.models._params import FAMILIES
from stagewise.models.artifacts import ARTIFACT_FILES
from stagewise.models.flavours import FLAVOUR_FILE, FORMAT_VERSION, EnsembleFlavour, Flavour

__all__ = [
    "METADATA_FILE",
    "build_metadata",
    "json_metrics",
    "legacy_metadata",
    "library_versions",
    "normalise_data_window",
    "production_metadata",
    "training_metadata",
]

METADATA_FILE = "metadata.json"


PHASE = f"stagewise {__version__}"
"""The seed's ``phase`` key ("Phase 12", its project milestone): here the release that wrote the file."""


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries whose formats a saved model depends on.

    Read from the modules themselves: the distribution names vary (``xgboost-cpu``).
    """
    import lightgbm
    import sklearn
    import skops
    import xgboost

    out = {"python": platform.python_version(), "stagewise": __version__}
    for name, module in (
        ("numpy", np),
        ("pandas", pd),
        ("scikit-learn", sklearn),
        ("lightgbm", lightgbm),
        ("xgboost", xgboost),
        ("skops", skops),
    ):
        out[name] = str(getattr(module, "__version__", "unknown"))
    return out


def _json_value(field: str, value: Any) -> Any:
    """A JSON-safe copy: numpy scalars become Python ones, dates ISO strings, NaN null."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; an undefined metric is stored as null
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _json_value(f"{field}[{k!r}]", v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(f"{field}[{i}]", v) for i, v in enumerate(value)]
    raise ConfigError(
        f"{field} must hold JSON values (numbers, strings, bools, null, lists, dicts, dates); "
        f"got {type(value).__name__} {value!r}."
    )


def json_metrics(metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check and convert ``performance_metrics`` (e.g. ``{"lightgbm_f1": 0.52}``)."""
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise ConfigError(f"metrics must be a dict of name → value or None; got {type(metrics).__name__}.")
    return {str(k): _json_value(f"metrics[{k!r}]", v) for k, v in metrics.items()}


def normalise_data_window(data_window: Any) -> dict[str, Any] | None:
    """``(start, end)`` or a mapping with at least ``start`` and ``end`` → JSON dict."""
    if data_window is None:
        return None
    if isinstance(data_window, tuple | list):
        if len(data_window) != 2:
            raise ConfigError(
                f"data_window must be (start, end); got {len(data_window)} values: {data_window!r}."
            )
        data_window = {"start": data_window[0], "end": data_window[1]}
    if not isinstance(data_window, Mapping) or not {"start", "end"} <= set(data_window):
        raise ConfigError(
            f"data_window must be (start, end) or a mapping with 'start' and 'end'; got {data_window!r}."
        )
    return {str(k): _json_value(f"data_window[{k!r}]", v) for k, v in data_window.items()}


def _parts(flavour: Flavour, files: list[str]) -> tuple[str, list[str], dict[str, float], dict[str, str]]:
    """``model_type``, ``individual_models``, ``model_weights`` and ``files`` of the seed's fields."""
    if isinstance(flavour, EnsembleFlavour):
        ensemble = flavour.model_
        return (
            type(ensemble).__name__,
            list(FAMILIES),
            dict(ensemble.weights_),
            {**ARTIFACT_FILES, "ensemble": "ensemble.json"},
        )
    weights = getattr(flavour, "weights_", None)
    members = getattr(flavour, "members_", None)
    if members is not None and weights is not None:
        names = [f"m{i}_{m.name}" for i, m in enumerate(members)]
        return (
            type(flavour).__name__,
            names,
            dict(zip(names, weights, strict=True)),
            {"flavour": FLAVOUR_FILE},
        )
    listing = {name.rsplit(".", 1)[0].replace(".", "_"): name for name in files}
    return type(flavour).__name__, [flavour.name], {flavour.name: 1.0}, {**listing, "flavour": FLAVOUR_FILE}


def build_metadata(
    flavour: Flavour,
    *,
    version: str,
    created_at: datetime,
    metrics: dict[str, Any],
    data_window: dict[str, Any] | None,
    notes: str | None,
    files: list[str] | None = None,
) -> dict[str, Any]:
    """The content of a version's ``metadata.json`` (the seed's fields and the flavour)."""
    model_type, individual, weights, listed = _parts(flavour, sorted(files or []))
    inner = getattr(flavour, "model_", None)
    return {
        "format_version": FORMAT_VERSION,
        "version": version,
        "created_at": created_at.isoformat(timespec="seconds"),
        "model_type": model_type,
        "flavour": flavour.name,
        "n_features": len(flavour.signature_.features),
        "feature_names": flavour.signature_.names,
        "individual_models": individual,
        "model_weights": weights,
        "performance_metrics": metrics,
        "data_window": data_window,
        "random_seed": getattr(inner, "random_state", getattr(flavour, "random_state", None)),
        "library_versions": library_versions(),
        "files": listed,
        "notes": notes,
    }


def training_metadata(meta: Mapping[str, Any], production_version: str | None) -> dict[str, Any]:
    """The seed's ``training/training_metadata.json`` for the newest version's metadata."""
    version = meta["version"]
    metrics = meta.get("performance_metrics") or {}
    return {
        "format_version": FORMAT_VERSION,
        "created_at": meta["created_at"],
        "script": "stagewise.models.registry.ModelRegistry.save",
        "phase": PHASE,
        "feature_optimization": f"{meta['n_features']} features in a fixed order (no automatic selection)",
        "version": version,
        "n_features": meta["n_features"],
        "feature_names": meta["feature_names"],
        "data_window": meta.get("data_window"),
        "individual_models": {
            family: {
                "f1_score": metrics.get(f"{family}_f1"),
                "file": f"{version}/{(meta.get('files') or {}).get(family, ARTIFACT_FILES.get(family, ''))}",
            }
            for family in meta.get("individual_models") or FAMILIES
        },
        "ensemble_config": {
            "weights": meta["model_weights"],
            "production_file": None if production_version is None else f"../production/{production_version}/",
        },
        "performance_metrics": metrics,
    }


def production_metadata(
    meta: Mapping[str, Any], *, promoted_at: str, previous_version: str | None, aliases: Mapping[str, str]
) -> dict[str, Any]:
    """The seed's ``production/production_model_metadata.json``."""
    return {
        "format_version": FORMAT_VERSION,
        "created_at": meta["created_at"],
        "model_type": meta["model_type"],
        "phase": PHASE,
        "status": "production_ready",
        "version": meta["version"],
        "promoted_at": promoted_at,
        "previous_version": previous_version,
        "aliases": sorted(a for a, v in aliases.items() if v == meta["version"]),
        "model_dir": f"{meta['version']}/",
        "n_features": meta["n_features"],
        "feature_names": meta["feature_names"],
        "individual_models": meta["individual_models"],
        "model_weights": meta["model_weights"],
        "performance_metrics": meta.get("performance_metrics") or {},
        "data_window": meta.get("data_window"),
        "random_seed": meta.get("random_seed"),
        "library_versions": meta.get("library_versions"),
    }


def legacy_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The seed's legacy ``production/model_metadata.json``: the core fields only."""
    return {
        "created_at": meta["created_at"],
        "model_type": meta["model_type"],
        "phase": PHASE,
        "version": meta["version"],
        "n_features": meta["n_features"],
        "feature_names": meta["feature_names"],
        "individual_models": meta["individual_models"],
        "model_weights": meta["model_weights"],
        "performance_metrics": meta.get("performance_metrics") or {},
        "model_file": f"{meta['version']}/",
    }
