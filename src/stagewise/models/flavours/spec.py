"""A model named in one string, for ``stagewise backtest --model`` and ``WalkForwardBacktest(model=...)``.

Specs:

* ``ensemble`` — the built-in ``ProductionEnsemble`` (with the backtest's ``model_params``);
* ``lightgbm`` / ``xgboost`` — one LightGBM or XGBoost model (``LightGBMFlavour`` / ``XGBoostFlavour``);
* ``sklearn:package.module:factory`` — ``factory()`` returns an unfitted scikit-learn estimator
  or ``Pipeline``, wrapped in :class:`~stagewise.models.SklearnFlavour`;
* ``package.module:factory`` — ``factory()`` returns any unfitted model with ``fit`` and
  ``predict_proba`` (a flavour object, for instance).

:func:`model_factory` returns a picklable zero-argument factory (process pools and Dask need one).

Examples
--------
>>> make = model_factory("lightgbm", {"n_estimators": 5})
>>> type(make()).__name__
'LightGBMFlavour'
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from stagewise._exceptions import ConfigError

__all__ = ["model_factory"]

_BUILT_IN = ("ensemble", "lightgbm", "xgboost")


def _import(path: str, field: str) -> Callable[[], Any]:
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"{field} must look like 'package.module:factory'; got {path!r}.")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{field} {path!r} cannot be imported ({type(exc).__name__}: {exc}).") from None
    if not callable(found):
        raise ConfigError(f"{field} {path!r} is a {type(found).__name__}, not a callable.")
    factory: Callable[[], Any] = found
    return factory


def build_model(spec: str, params: Mapping[str, Any] | None = None) -> Any:
    """A fresh unfitted model for ``spec`` (see the module docstring)."""
    from stagewise.models.ensemble import ProductionEnsemble
    from stagewise.models.flavours.boosters import LightGBMFlavour, XGBoostFlavour
    from stagewise.models.flavours.sklearn import SklearnFlavour

    if spec == "ensemble":
        return ProductionEnsemble(**dict(params or {}))
    if spec == "lightgbm":
        return LightGBMFlavour(params)
    if spec == "xgboost":
        return XGBoostFlavour(params)
    if spec.startswith("sklearn:"):
        return SklearnFlavour(_import(spec.removeprefix("sklearn:"), "--model")())
    model = _import(spec, "--model")()
    if not (hasattr(model, "fit") and hasattr(model, "predict_proba")):
        raise ConfigError(
            f"--model {spec!r} built a {type(model).__name__}, which has no fit and predict_proba."
        )
    return model


def model_factory(spec: str, params: Mapping[str, Any] | None = None) -> Callable[[], Any]:
    """A picklable factory of ``spec``'s model; the spec is checked now, not in a worker."""
    if spec not in _BUILT_IN and ":" not in spec:
        raise ConfigError(
            f"--model must be one of {list(_BUILT_IN)}, 'sklearn:package.module:factory' or "
            f"'package.module:factory'; got {spec!r}."
        )
    build_model(spec, params)  # fail here with a clear message
    return functools.partial(build_model, spec, dict(params or {}) if spec != "ensemble" else params)
