"""A model version's files from any flavour, and any flavour back from verified files.

:func:`as_flavour` picks the flavour for a model object (or refuses it naming its type and
the flavours). :func:`dump_version` writes ``flavour.json`` beside the flavour's files;
:func:`load_version` reads format 2 (``flavour.json``) and format 1 (a ProductionEnsemble's
``ensemble.json``, as written before flavours existed) after auditing every skops file
against the manifest's ``trusted_types``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from stagewise._exceptions import ArtifactError, UnsupportedModelError
from stagewise.models.flavours._base import (
    FLAVOUR_FILE,
    FORMAT_VERSION,
    Flavour,
    flavour_names,
    load_entry,
    pack_entry,
    read_description,
)
from stagewise.models.flavours._common import loading_with
from stagewise.models.flavours.signature import InputSignature
from stagewise.models.flavours.trust import audit_skops_types, skops_types, untrusted

__all__ = ["as_flavour", "dump_version", "load_version", "skops_trust_list", "version_format"]

_MODULES = ("lightgbm", "xgboost", "sklearn")


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def as_flavour(model: object, signature: InputSignature | None = None) -> Flavour:
    """The flavour that stores ``model``.

    Accepts a flavour object, a :class:`~stagewise.models.ProductionEnsemble`, a LightGBM
    ``Booster``/``LGBMClassifier``, an XGBoost ``Booster``/``XGBClassifier``, or a fitted
    scikit-learn classifier or ``Pipeline``.

    Raises
    ------
    UnsupportedModelError
        Naming the object's type and the flavours.
    ConfigError
        When ``signature`` disagrees with what the model was fitted on.
    """
    from stagewise.models.ensemble import ProductionEnsemble
    from stagewise.models.flavours.boosters import LightGBMFlavour, XGBoostFlavour
    from stagewise.models.flavours.ensemble import EnsembleFlavour
    from stagewise.models.flavours.sklearn import SklearnFlavour

    if type(model).__module__.startswith("stagewise.models.flavours") and not hasattr(model, "signature_"):
        from stagewise._exceptions import NotFittedError

        raise NotFittedError(f"This {type(model).__name__} is not fitted yet; call fit() before saving it.")
    if isinstance(model, Flavour):
        if signature is not None and signature.names != model.signature_.names:
            from stagewise._exceptions import ConfigError

            raise ConfigError(
                f"The signature's features {signature.names} differ from the model's "
                f"{model.signature_.names}."
            )
        if signature is not None:
            model.signature_ = signature
        return model
    if isinstance(model, ProductionEnsemble):
        return EnsembleFlavour.from_model(model, signature)
    top = type(model).__module__.split(".", 1)[0]
    if top == "lightgbm" and type(model).__name__ in ("Booster", "LGBMClassifier"):
        return LightGBMFlavour.from_booster(model, signature)
    if top == "xgboost" and type(model).__name__ in ("Booster", "XGBClassifier"):
        return XGBoostFlavour.from_booster(model, signature)
    if top == "sklearn" or (top not in _MODULES and _is_sklearn_estimator(model)):
        return SklearnFlavour.from_estimator(model, signature)
    raise UnsupportedModelError(
        f"Cannot store a {_qualname(model)}: it is not a model any flavour stores. Flavours: "
        "sklearn (a fitted scikit-learn classifier or Pipeline), lightgbm (lightgbm.Booster or "
        "LGBMClassifier), xgboost (xgboost.Booster or XGBClassifier), ensemble (ProductionEnsemble), "
        f"race (RaceFlavour), blend (BlendFlavour); registered: {flavour_names()}."
    )


def _is_sklearn_estimator(model: Any) -> bool:
    try:
        from sklearn.base import BaseEstimator
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return False
    return isinstance(model, BaseEstimator) and hasattr(model, "predict_proba")


def skops_trust_list(files: Mapping[str, bytes], extra: Iterable[str] = ()) -> dict[str, list[str]]:
    """For each ``.skops`` file, the types it holds; refuses any untrusted one (at save time)."""
    out: dict[str, list[str]] = {}
    extra = list(extra)
    for name, data in sorted(files.items()):
        if name.endswith(".skops"):
            types = skops_types(data, name)
            bad = untrusted(types, extra)
            if bad:
                raise ArtifactError(
                    f"{name}: the model holds type(s) {bad} that stagewise does not trust by default "
                    "(scikit-learn and NumPy classes, NumPy ufuncs, plain builtins); nothing was written. "
                    f"If you trust them, pass trusted_types={bad} to ModelRegistry."
                )
            out[name] = sorted(types)
    return out


def dump_version(flavour: Flavour, *, feature_set: Mapping[str, Any] | None = None) -> dict[str, bytes]:
    """The files of a version holding ``flavour``: its files and ``flavour.json``."""
    from stagewise.models.manifest import canonical_json

    files, entry = pack_entry(flavour)
    if FLAVOUR_FILE in files:
        raise ArtifactError(f"A flavour may not write a file named {FLAVOUR_FILE}.")
    empty = sorted(n for n, data in files.items() if not data)
    if empty:
        raise ArtifactError(f"The {flavour.name} model wrote empty file(s) {empty}; nothing was written.")
    body = {"format_version": FORMAT_VERSION, **entry, "feature_set": dict(feature_set or {}) or None}
    files[FLAVOUR_FILE] = canonical_json(body)
    return files


def version_format(files: Mapping[str, bytes]) -> int:
    """The format of verified version files (refuses a newer or unknown one)."""
    from stagewise.models.artifacts import read_format_version

    if FLAVOUR_FILE in files:
        return int(read_description(files)["format_version"])
    read_format_version(files)
    return 1


def audit_version(
    files: Mapping[str, bytes], trust_lists: Mapping[str, Any] | None, extra: Iterable[str] = ()
) -> None:
    """Audit every skops file against the manifest's list (format 1: the forest's fixed list)."""
    from stagewise.models.artifacts import ARTIFACT_FILES, TRUSTED_TYPES

    extra = list(extra)
    for name, data in files.items():
        if not name.endswith(".skops"):
            continue
        listed = (trust_lists or {}).get(name)
        if listed is None:
            # the ensemble's forest has its fixed list (format 1 manifests carry none)
            if name != ARTIFACT_FILES["random_forest"]:
                raise ArtifactError(
                    f"{name}: the manifest lists no trusted types for it; refusing to load it."
                )
            listed = list(TRUSTED_TYPES) + sorted(
                t for t in skops_types(data, name) if t.startswith("builtins.")
            )
        audit_skops_types(data, name, listed=listed, extra=extra)


def load_version(
    files: Mapping[str, bytes], *, trusted_types: Iterable[str] = (), n_jobs: int | None = None
) -> Flavour:
    """Rebuild the flavour of verified version files (``manifest.json`` included when present)."""
    from stagewise.models.flavours.ensemble import EnsembleFlavour

    manifest = _manifest(files)
    version_format(files)
    audit_version(files, manifest.get("trusted_types"), trusted_types)
    with loading_with(trusted_types, n_jobs):
        if FLAVOUR_FILE not in files:
            flavour = EnsembleFlavour.from_files(files, {})
            flavour.signature_ = InputSignature.from_names([str(n) for n in flavour.model_.feature_names_in_])
            return flavour
        description = read_description(files)
        try:
            return load_entry(description, files)
        except (KeyError, TypeError) as exc:
            raise ArtifactError(
                f"{FLAVOUR_FILE}: missing or malformed field ({type(exc).__name__}: {exc})."
            ) from None


def read_feature_set(files: Mapping[str, bytes]) -> dict[str, Any] | None:
    """The feature set recorded with a version (None for format 1 or when none was given)."""
    if FLAVOUR_FILE not in files:
        return None
    value = read_description(files).get("feature_set")
    return dict(value) if isinstance(value, dict) else None


def _manifest(files: Mapping[str, bytes]) -> dict[str, Any]:
    raw = files.get("manifest.json")
    if raw is None:
        return {}
    body = json.loads(raw.decode("utf-8"))
    return body if isinstance(body, dict) else {}
