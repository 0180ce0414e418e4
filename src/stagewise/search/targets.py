"""What a search tunes: a *model target* turns a configuration into a picklable model factory.

The search never builds a model itself; it asks a :class:`ModelTarget` to check the space's
parameter names once and to make ``factory(config) -> () -> classifier`` for each trial. Any
model that can be fitted and asked for ``predict_proba`` plugs in through this seam:

* :class:`EnsembleTarget` (default): the :class:`~stagewise.models.ProductionEnsemble`;
  names are ``lightgbm.<param>``, ``xgboost.<param>``, ``random_forest.<param>`` (any
  parameter of that estimator) and ``weights.<family>``. What it builds the registry stores.
* :class:`SklearnTarget`: any scikit-learn classifier class; names are its ``get_params()``.

Factories are ``functools.partial`` objects of module-level functions, so they travel to
process-pool and Dask workers.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from stagewise._exceptions import ConfigError
from stagewise.search.procedure import PROCEDURE
from stagewise.search.space import FEATURE_SET

__all__ = [
    "Classifier",
    "EnsembleTarget",
    "ModelTarget",
    "SklearnTarget",
    "split_config",
]


class Classifier(Protocol):
    """A binary classifier: ``fit(X, y)`` then ``predict_proba(X)[:, 1]``."""

    def fit(self, X: Any, y: Any) -> Any: ...

    def predict_proba(self, X: Any) -> Any: ...


class ModelTarget(Protocol):
    """Checks parameter names and builds model factories for configurations."""

    name: str

    def check_names(self, names: Sequence[str]) -> None:
        """Raise :class:`~stagewise.ConfigError` naming the first unknown parameter."""
        ...

    def factory(self, config: Mapping[str, Any]) -> Callable[[], Classifier]:
        """A picklable zero-argument callable returning a fresh unfitted model for ``config``."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON naming the target and its fixed settings (results file, study fingerprint)."""
        ...


def split_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The model parameters of a configuration and its feature set (``None`` when not searched)."""
    params = {k: v for k, v in config.items() if k != FEATURE_SET and k not in PROCEDURE}
    feature_set = config.get(FEATURE_SET)
    return params, (None if feature_set is None else str(feature_set))


def _unknown(name: str, accepted: Sequence[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(name, accepted, n=3)
    hint = f" Did you mean {close}?" if close else ""
    return ConfigError(
        f"The search space parameter {name!r} is unknown: {where} accepts {sorted(accepted)}.{hint}"
    )


_FAMILY_FIELDS = {"lightgbm": "lgbm_params", "xgboost": "xgb_params", "random_forest": "rf_params"}


def _family_params(family: str) -> list[str]:
    if family == "lightgbm":
        from lightgbm import LGBMClassifier

        return list(LGBMClassifier().get_params())
    if family == "xgboost":
        from xgboost import XGBClassifier

        return list(XGBClassifier().get_params())
    from sklearn.ensemble import RandomForestClassifier

    return list(RandomForestClassifier().get_params())


def build_ensemble(
    config: Mapping[str, Any], base: Mapping[str, Mapping[str, Any]], random_state: int
) -> Any:
    """A ProductionEnsemble for a flat configuration (``lightgbm.num_leaves`` ...) over ``base``."""
    from stagewise.models import ProductionEnsemble

    families: dict[str, dict[str, Any]] = {f: dict(base.get(f, {})) for f in _FAMILY_FIELDS}
    weights: dict[str, float] = {}
    for name, value in config.items():
        family, _, key = name.partition(".")
        if family == "weights":
            weights[key] = float(value)
        else:
            families[family][key] = value
    kwargs: dict[str, Any] = {_FAMILY_FIELDS[f]: p for f, p in families.items()}
    if weights:
        from stagewise.models._params import DEFAULT_WEIGHTS

        kwargs["weights"] = {**DEFAULT_WEIGHTS, **weights}
    return ProductionEnsemble(random_state=random_state, **kwargs)


class EnsembleTarget:
    """Tune the :class:`~stagewise.models.ProductionEnsemble` (LightGBM + XGBoost + RandomForest).

    Parameters
    ----------
    base : dict, optional
        Per-family settings every trial starts from, e.g. ``{"lightgbm": {"n_estimators": 50}}``.
    random_state : int
        The ensemble's seed.

    Examples
    --------
    >>> target = EnsembleTarget()
    >>> target.check_names(["lightgbm.num_leaves", "weights.xgboost"])
    >>> target.check_names(["lightgbm.num_leafs"])
    Traceback (most recent call last):
    ...
    stagewise._exceptions.ConfigError: The search space parameter 'lightgbm.num_leafs' is unknown: ...
    """

    name = "ensemble"

    def __init__(self, base: Mapping[str, Mapping[str, Any]] | None = None, random_state: int = 0) -> None:
        self.base = {k: dict(v) for k, v in (base or {}).items()}
        self.random_state = random_state

    def check_names(self, names: Sequence[str]) -> None:
        prefixes = [*(f"{f}." for f in _FAMILY_FIELDS), "weights."]
        for name in names:
            family, dot, key = name.partition(".")
            if not dot or (family not in _FAMILY_FIELDS and family != "weights"):
                raise ConfigError(
                    f"The search space parameter {name!r} is unknown: ensemble parameters start with one of "
                    f"{prefixes}, e.g. 'lightgbm.num_leaves'."
                )
            if family == "weights":
                if key not in _FAMILY_FIELDS:
                    raise _unknown(name, [f"weights.{f}" for f in _FAMILY_FIELDS], "the ensemble's weights")
                continue
            from stagewise.models._params import RESERVED_PARAMS

            accepted = [p for p in _family_params(family) if p not in RESERVED_PARAMS]
            if key not in accepted:
                raise _unknown(name, [f"{family}.{p}" for p in accepted], family)

    def factory(self, config: Mapping[str, Any]) -> Callable[[], Classifier]:
        return functools.partial(build_ensemble, dict(config), self.base, self.random_state)

    def describe(self) -> dict[str, Any]:
        return {"kind": "ensemble", "base": self.base, "random_state": self.random_state}

    def __repr__(self) -> str:
        return f"EnsembleTarget(base={self.base!r}, random_state={self.random_state})"


def build_sklearn(estimator: type, config: Mapping[str, Any], fixed: Mapping[str, Any]) -> Any:
    """``estimator(**fixed, **config)``: a module-level builder so that the factory pickles."""
    return estimator(**{**fixed, **config})


class SklearnTarget:
    """Tune any scikit-learn classifier class; parameter names are its ``get_params()`` keys.

    Examples
    --------
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> target = SklearnTarget(DecisionTreeClassifier, fixed={"random_state": 0})
    >>> model = target.factory({"max_depth": 3})()
    >>> model.get_params()["max_depth"]
    3
    """

    def __init__(self, estimator: type, fixed: Mapping[str, Any] | None = None) -> None:
        self.estimator = estimator
        self.fixed = dict(fixed or {})
        self.name = estimator.__name__

    def check_names(self, names: Sequence[str]) -> None:
        accepted = list(self.estimator().get_params())
        for name in names:
            if name not in accepted:
                raise _unknown(name, accepted, self.name)

    def factory(self, config: Mapping[str, Any]) -> Callable[[], Classifier]:
        return functools.partial(build_sklearn, self.estimator, dict(config), self.fixed)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "sklearn",
            "estimator": f"{self.estimator.__module__}.{self.estimator.__qualname__}",
            "fixed": {
                k: v if isinstance(v, str | int | float | bool | None) else repr(v)
                for k, v in self.fixed.items()
            },
        }

    def __repr__(self) -> str:
        return f"SklearnTarget({self.name}, fixed={self.fixed!r})"
