"""Which types a skops file may hold, decided from its ``schema.json`` before anything is built.

skops records every object of a file in ``schema.json`` with its module, class and loader. The
registry lists those types in the version's manifest when it saves (``trusted_types``), and at
load refuses the file unless (1) every type in it is listed there and (2) every listed type is
trusted: scikit-learn and NumPy classes, plain builtins, NumPy ufuncs, the forest types of the
format-1 ensemble, and whatever the loading code passes in ``trusted_types``. Only then is
``skops.io.loads`` called, with exactly the types the file holds.

Examples
--------
>>> is_trusted("sklearn.linear_model._logistic.LogisticRegression", "ObjectNode")
True
>>> is_trusted("os.system", "FunctionNode")
False
"""

from __future__ import annotations

import importlib.util
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from stagewise._exceptions import ArtifactError

__all__ = ["BUILTIN_TYPES", "audit_skops_types", "is_trusted", "skops_types", "untrusted"]

#: Plain builtins skops writes for containers and scalars.
BUILTIN_TYPES = frozenset(
    f"builtins.{name}"
    for name in ("dict", "list", "tuple", "str", "int", "float", "bool", "NoneType", "slice", "type")
)
_TRUSTED_PACKAGES = ("sklearn", "numpy")


def skops_types(data: bytes, name: str) -> dict[str, str]:
    """Every ``module.Class`` in a skops file, mapped to its skops loader (no object is built)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ArtifactError(f"{name}: not a readable skops file ({exc}).") from None
    found: dict[str, str] = {}
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node:
                found[f"{node.get('__module__')}.{node['__class__']}"] = str(node.get("__loader__", ""))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _is_numpy_ufunc(qualified: str) -> bool:
    module, _, attr = qualified.rpartition(".")
    if module != "numpy":
        return False
    return isinstance(getattr(np, attr, None), np.ufunc)


def is_trusted(qualified: str, loader: str, extra: Iterable[str] = ()) -> bool:
    """True when ``qualified`` (``module.Class``) may be built without the user's say-so."""
    if qualified in BUILTIN_TYPES or qualified in set(extra):
        return True
    if loader == "FunctionNode":
        return _is_numpy_ufunc(qualified)
    top = qualified.split(".", 1)[0]
    if top not in _TRUSTED_PACKAGES:
        return False
    # a name that does not resolve to an installed module is never trusted
    module = qualified.rpartition(".")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def untrusted(types: Mapping[str, str], extra: Iterable[str] = ()) -> list[str]:
    """The types of ``types`` (name → loader) that are not trusted, sorted."""
    extra = list(extra)
    return sorted(t for t, loader in types.items() if not is_trusted(t, loader, extra))


def audit_skops_types(data: bytes, name: str, listed: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
    """Refuse a skops file holding a type not in ``listed`` or not trusted; return its types.

    Raises
    ------
    ArtifactError
        Naming the file, the offending types and what is trusted.
    """
    types = skops_types(data, name)
    listed = set(listed)
    unlisted = sorted(set(types) - listed)
    if unlisted:
        raise ArtifactError(
            f"{name}: refusing to load untrusted type(s) {unlisted}: not in the manifest's trusted list "
            f"{sorted(listed)} (the file was changed after it was saved)."
        )
    bad = untrusted({t: types[t] for t in types}, extra)
    if bad:
        raise ArtifactError(
            f"{name}: refusing to load untrusted type(s) {bad}; trusted are scikit-learn and NumPy classes, "
            "NumPy ufuncs and plain builtins. If you wrote these types and trust this file, pass "
            f"trusted_types={bad} to ModelRegistry."
        )
    return sorted(types)
