"""Pickle-free model files: LightGBM text, XGBoost UBJSON, RandomForest through skops.

:func:`dump_ensemble` turns a fitted :class:`~stagewise.models.ProductionEnsemble` into
file contents (name → bytes) in memory; the registry decides where they go.
:func:`load_ensemble` rebuilds the model from contents the registry has already
checked against the manifest. Nothing here ever unpickles: LightGBM and XGBoost read
their own formats, and skops only constructs the exact types in :data:`TRUSTED_TYPES`,
after an audit of the whole file.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from stagewise._exceptions import ArtifactError, UnsupportedFormatError
from stagewise.models._params import FAMILIES, validate_weights
from stagewise.models.ensemble import ProductionEnsemble
from stagewise.models.manifest import canonical_json

__all__ = [
    "ARTIFACT_FILES",
    "ENSEMBLE_FILE",
    "ENSEMBLE_FORMAT_VERSION",
    "TRUSTED_TYPES",
    "audit_skops",
    "dump_ensemble",
    "load_ensemble",
    "read_format_version",
]

ENSEMBLE_FORMAT_VERSION = 1
"""Format of ``ensemble.json`` and the ensemble's three model files.

The format of a whole model version is :data:`stagewise.models.flavours.FORMAT_VERSION`
(format 1 versions are exactly these files; format 2 adds ``flavour.json``). Bump this one when
an ensemble file is added, removed, renamed or changes meaning, so that an older stagewise
refuses the new files (``UnsupportedFormatError``) instead of misreading them:

1. increase ``ENSEMBLE_FORMAT_VERSION`` and write the new layout in :func:`dump_ensemble`;
2. keep the old reader: move it to ``_read_vN`` and register it in ``_READERS``;
3. bump the version format too and save a fixture (``tests/models/fixtures/make_fixture.py``).
"""

ENSEMBLE_FILE = "ensemble.json"

#: File of each model family inside a version directory (the seed's names, new suffixes).
ARTIFACT_FILES: dict[str, str] = {
    "lightgbm": "lightgbm_model.txt",
    "xgboost": "xgboost_model.ubj",
    "random_forest": "random_forest_model.skops",
}

#: The only non-builtin types skops may construct: what a fitted RandomForestClassifier holds.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.int64",
    "numpy.ndarray",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
)

_BUILTIN_TYPES = frozenset(
    f"builtins.{name}" for name in ("dict", "list", "tuple", "str", "int", "float", "bool", "NoneType")
)
_CLASS_KINDS = {"b", "i", "u", "f", "U"}


# --------------------------------------------------------------------------- write
def dump_ensemble(model: ProductionEnsemble) -> dict[str, bytes]:
    """The files of a fitted ensemble: three model files and ``ensemble.json``."""
    import skops.io as sio

    model._check_fitted()
    files = {
        ARTIFACT_FILES["lightgbm"]: model.lightgbm_.model_to_string().encode("utf-8"),
        ARTIFACT_FILES["xgboost"]: bytes(model.xgboost_.save_raw(raw_format="ubj")),
        ARTIFACT_FILES["random_forest"]: sio.dumps(
            model.random_forest_, compression=zipfile.ZIP_DEFLATED, compresslevel=6
        ),
    }
    files[ENSEMBLE_FILE] = canonical_json(_ensemble_description(model))
    return files


def _ensemble_description(model: ProductionEnsemble) -> dict[str, Any]:
    classes = np.asarray(model.classes_)
    if classes.dtype.kind not in _CLASS_KINDS and not (
        classes.dtype == object and all(isinstance(c, str) for c in classes)
    ):
        raise ArtifactError(
            f"Cannot store class labels of dtype {classes.dtype} ({classes.tolist()!r}); "
            "labels must be bool, int, float or str."
        )
    raw_weights = None if model.weights is None else {k: _plain(v) for k, v in model.weights.items()}
    return {
        "format_version": ENSEMBLE_FORMAT_VERSION,
        "type": type(model).__name__,
        "weights": model.weights_,
        "feature_names": [str(n) for n in model.feature_names_in_],
        "classes": [_plain(c) for c in classes],
        "classes_dtype": classes.dtype.str if classes.dtype != object else "object",
        "files": dict(ARTIFACT_FILES),
        "params": {
            "weights": raw_weights,
            "random_state": model.random_state,
            "n_jobs": model.n_jobs,
            "lgbm_params": model.lgbm_params,
            "xgb_params": model.xgb_params,
            "rf_params": model.rf_params,
        },
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------------- read
def read_format_version(files: Mapping[str, bytes]) -> int:
    """The ``format_version`` of verified version files; refuses a newer or unknown one."""
    description = _description(files)
    fmt = description.get("format_version")
    if isinstance(fmt, bool) or not isinstance(fmt, int):
        raise UnsupportedFormatError(f"{ENSEMBLE_FILE}: 'format_version' must be an int; got {fmt!r}.")
    if fmt not in _READERS:
        newer = fmt > ENSEMBLE_FORMAT_VERSION
        raise UnsupportedFormatError(
            f"{ENSEMBLE_FILE}: format_version {fmt} is "
            + ("newer than this stagewise reads" if newer else "unknown")
            + f" (readable: {sorted(_READERS)}); "
            + ("upgrade stagewise to load it." if newer else "the file is not a stagewise model.")
        )
    return fmt


def load_ensemble(files: Mapping[str, bytes], n_jobs: int | None = None) -> ProductionEnsemble:
    """Rebuild a fitted ensemble from verified file contents.

    ``n_jobs`` overrides the stored thread count (e.g. 1 inside a process pool).
    """
    reader = _READERS[read_format_version(files)]
    try:
        return reader(files, n_jobs)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ArtifactError(
            f"{ENSEMBLE_FILE}: missing or malformed field ({type(exc).__name__}: {exc})."
        ) from None


def audit_skops(data: bytes, name: str = ARTIFACT_FILES["random_forest"]) -> None:
    """Refuse a skops file holding any type outside :data:`TRUSTED_TYPES` and plain builtins."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ArtifactError(f"{name}: not a readable skops file ({exc}).") from None
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node:
                found.add(f"{node.get('__module__')}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    untrusted = sorted(found - set(TRUSTED_TYPES) - _BUILTIN_TYPES)
    if untrusted:
        raise ArtifactError(
            f"{name}: refusing to load untrusted type(s) {untrusted}; "
            f"trusted: {list(TRUSTED_TYPES)} and plain builtins."
        )


def _description(files: Mapping[str, bytes]) -> dict[str, Any]:
    if ENSEMBLE_FILE not in files:
        raise ArtifactError(f"{ENSEMBLE_FILE} is missing from the version; it is not a ProductionEnsemble.")
    try:
        description = json.loads(files[ENSEMBLE_FILE].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{ENSEMBLE_FILE}: not valid JSON ({exc}).") from None
    if not isinstance(description, dict):
        raise ArtifactError(f"{ENSEMBLE_FILE}: expected a JSON object.")
    return description


def _read_v1(files: Mapping[str, bytes], n_jobs: int | None) -> ProductionEnsemble:
    import lightgbm as lgb
    import skops.io as sio
    import xgboost as xgb

    description = _description(files)
    if description.get("type") != "ProductionEnsemble":
        raise ArtifactError(f"{ENSEMBLE_FILE}: type {description.get('type')!r} is not 'ProductionEnsemble'.")
    paths = description["files"]
    for family in FAMILIES:
        if paths.get(family) not in files:
            raise ArtifactError(
                f"{ENSEMBLE_FILE}: the {family} file {paths.get(family)!r} is not in the version."
            )
    params = description["params"]
    model = ProductionEnsemble(
        weights=params["weights"],
        random_state=params["random_state"],
        n_jobs=params["n_jobs"] if n_jobs is None else n_jobs,
        lgbm_params=params["lgbm_params"],
        xgb_params=params["xgb_params"],
        rf_params=params["rf_params"],
    )
    model._threads()  # validates n_jobs before any construction
    names = [str(n) for n in description["feature_names"]]
    dtype = (
        np.dtype(object)
        if description["classes_dtype"] == "object"
        else np.dtype(description["classes_dtype"])
    )
    classes = np.asarray(description["classes"], dtype=dtype)

    try:
        booster = lgb.Booster(model_str=files[paths["lightgbm"]].decode("utf-8"))
    except (lgb.basic.LightGBMError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{paths['lightgbm']}: not a readable LightGBM model ({exc}).") from None
    xgb_booster = xgb.Booster()
    try:
        xgb_booster.load_model(bytearray(files[paths["xgboost"]]))
    except xgb.core.XGBoostError as exc:
        raise ArtifactError(f"{paths['xgboost']}: not a readable XGBoost model ({exc}).") from None
    audit_skops(files[paths["random_forest"]], paths["random_forest"])
    forest = sio.loads(files[paths["random_forest"]], trusted=list(TRUSTED_TYPES))

    counts = {
        "lightgbm": booster.num_feature(),
        "xgboost": xgb_booster.num_features(),
        "random_forest": int(forest.n_features_in_),
    }
    wrong = {k: v for k, v in counts.items() if v != len(names)}
    if wrong:
        raise ArtifactError(f"{ENSEMBLE_FILE} lists {len(names)} features but the model files have {wrong}.")
    model.lightgbm_ = booster
    model.xgboost_ = xgb_booster
    model.random_forest_ = forest
    model._set_fitted(classes, names, validate_weights(description["weights"]))
    return model


_READERS = {1: _read_v1}
