"""Pieces every flavour shares: class labels in JSON, the load context, fitted checks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from stagewise._exceptions import ArtifactError, ConfigError, NotFittedError

__all__ = ["LoadOptions", "check_binary_proba", "classes_from_json", "classes_to_json", "load_options"]


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """Settings of the load in progress: extra trusted skops types, a thread override."""

    trusted_types: tuple[str, ...] = ()
    n_jobs: int | None = None


_OPTIONS: ContextVar[LoadOptions | None] = ContextVar("stagewise_flavour_load", default=None)


@contextmanager
def loading_with(trusted_types: Iterable[str] = (), n_jobs: int | None = None) -> Iterator[None]:
    """Run a load with these options (nested flavours read them through :func:`load_options`)."""
    token = _OPTIONS.set(LoadOptions(tuple(trusted_types), n_jobs))
    try:
        yield
    finally:
        _OPTIONS.reset(token)


def load_options() -> LoadOptions:
    return _OPTIONS.get() or LoadOptions()


def classes_to_json(classes: Any) -> dict[str, Any]:
    """Binary class labels as JSON with their dtype."""
    arr = np.asarray(classes)
    if arr.shape != (2,):
        raise ConfigError(f"A stored model must be a binary classifier; it has classes {arr.tolist()!r}.")
    if arr.dtype.kind not in "biufU" and not (arr.dtype == object and all(isinstance(c, str) for c in arr)):
        raise ConfigError(f"Class labels must be bool, int, float or str; got dtype {arr.dtype}.")
    return {
        "classes": [c.item() if isinstance(c, np.generic) else c for c in arr],
        "classes_dtype": "object" if arr.dtype == object else arr.dtype.str,
    }


def classes_from_json(details: Mapping[str, Any]) -> np.ndarray:
    try:
        dtype = (
            np.dtype(object) if details["classes_dtype"] == "object" else np.dtype(details["classes_dtype"])
        )
        return np.asarray(details["classes"], dtype=dtype)
    except (KeyError, TypeError) as exc:
        raise ArtifactError(f"flavour.json: the model's classes are missing or malformed ({exc}).") from None


def check_fitted(model: Any, attribute: str) -> None:
    if not hasattr(model, attribute):
        raise NotFittedError(
            f"This {type(model).__name__} is not fitted yet; call fit(X, y) first, "
            "or load a fitted one with ModelRegistry.load()."
        )


def check_binary_proba(proba: Any, n_rows: int, who: str) -> np.ndarray:
    out = np.asarray(proba, dtype=np.float64)
    if out.ndim == 1:
        out = np.column_stack([1.0 - out, out])
    if out.shape != (n_rows, 2):
        raise ConfigError(f"{who}.predict_proba must return shape ({n_rows}, 2); got {out.shape}.")
    return out
