"""ProductionEnsemble: the seed's weighted soft vote of LightGBM, XGBoost and RandomForest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from stagewise._exceptions import DataValidationError, NotFittedError
from stagewise.models._features import as_feature_matrix, check_features, default_feature_names
from stagewise.models._params import (
    FAMILIES,
    FAMILY_DEFAULTS,
    resolve_threads,
    validate_family_params,
    validate_n_jobs,
    validate_random_state,
    validate_weights,
)

__all__ = ["EnsembleParams", "ProductionEnsemble"]


class EnsembleParams(TypedDict, total=False):
    """The keyword arguments of :class:`ProductionEnsemble` a caller chooses (``random_state`` is the run's).

    What ``--model-params`` and ``model_params=`` hold; each value is checked by the ensemble itself
    (the family settings must be JSON values).
    """

    weights: Mapping[str, float] | None
    n_jobs: int
    lgbm_params: Mapping[str, object] | None
    xgb_params: Mapping[str, object] | None
    rf_params: Mapping[str, object] | None


_PARAM_FIELDS = {"lightgbm": "lgbm_params", "xgboost": "xgb_params", "random_forest": "rf_params"}


class ProductionEnsemble(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Weighted soft vote of LightGBM, XGBoost and RandomForest for binary classification.

    The seed's production model: each family predicts the probability of the positive
    class and the ensemble averages them with weights 0.4 / 0.4 / 0.2. It serves both
    domains: next-bar direction on market bars, and "did this boat win" per boat (ranked
    within each race by :func:`stagewise.models.races.rank_races`).

    Parameters
    ----------
    weights : dict or None
        Vote weights with exactly the keys ``lightgbm``, ``xgboost``, ``random_forest``;
        finite, >= 0, not all zero. They are normalised to sum 1. ``None`` means the
        seed's ``{"lightgbm": 0.4, "xgboost": 0.4, "random_forest": 0.2}``.
    random_state : int
        Seed for all three families; the same data, seed and ``n_jobs`` give the same model.
    n_jobs : int
        Threads each family may use, for fitting and predicting (-1: every core). Keep
        ``pool size × n_jobs`` at or below the core count when running several in parallel.
    lgbm_params, xgb_params, rf_params : dict or None
        Settings merged over the defaults of ``LGBMClassifier``, ``XGBClassifier`` and
        ``RandomForestClassifier``. They must be JSON values; ``random_state`` and
        ``objective`` are reserved. An ``n_jobs`` here overrides the ensemble's for that family.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels seen in ``fit``; ``classes_[1]`` is the positive class.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names seen in ``fit``; for an array, the seed's 12 market names when it has
        12 columns, else ``x0 .. x{n-1}``.
    weights_ : dict
        The normalised weights used by the vote.
    lightgbm_ : lightgbm.Booster
    xgboost_ : xgboost.Booster
    random_forest_ : sklearn.ensemble.RandomForestClassifier

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 12))
    >>> y = (X[:, 0] + 0.5 * X[:, 3] > 0).astype(int)
    >>> model = ProductionEnsemble(lgbm_params={"n_estimators": 20}, xgb_params={"n_estimators": 20},
    ...                            rf_params={"n_estimators": 20}).fit(X, y)
    >>> model.predict_proba(X[:2]).shape
    (2, 2)
    >>> info = model.get_model_info()
    >>> info["type"], info["n_features"], info["weights"]["random_forest"]
    ('ProductionEnsemble', 12, 0.2)
    >>> info["feature_names"][:3]
    ['close', 'volume', 'returns_1']
    """

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
        lgbm_params: Mapping[str, Any] | None = None,
        xgb_params: Mapping[str, Any] | None = None,
        rf_params: Mapping[str, Any] | None = None,
    ) -> None:
        self.weights = weights
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.lgbm_params = lgbm_params
        self.xgb_params = xgb_params
        self.rf_params = rf_params

    # ------------------------------------------------------------------ settings
    def _family_params(self) -> dict[str, dict[str, Any]]:
        """Validated per-family settings, defaults first, the user's over them."""
        given = {"lightgbm": self.lgbm_params, "xgboost": self.xgb_params, "random_forest": self.rf_params}
        return {
            name: {**FAMILY_DEFAULTS[name], **validate_family_params(_PARAM_FIELDS[name], given[name])}
            for name in FAMILIES
        }

    def _threads(self) -> dict[str, int]:
        """Thread count of each family: its own ``n_jobs`` if given, else the ensemble's."""
        n_jobs = validate_n_jobs(self.n_jobs)
        given = {"lightgbm": self.lgbm_params, "xgboost": self.xgb_params, "random_forest": self.rf_params}
        return {name: resolve_threads(int((given[name] or {}).get("n_jobs", n_jobs))) for name in FAMILIES}

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ProductionEnsemble:
        """Validate the parameters and data, then fit the three families.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_features)
            Numeric features; NaN is allowed, infinity is not.
        y : array-like of shape (n_samples,)
            Exactly two distinct labels, none missing.
        sample_weight : array-like of shape (n_samples,) or None
        """
        import lightgbm as lgb
        import xgboost as xgb
        from sklearn.ensemble import RandomForestClassifier

        weights = validate_weights(self.weights)
        seed = validate_random_state(self.random_state)
        params = self._family_params()
        threads = self._threads()

        names = list(X.columns) if isinstance(X, pd.DataFrame) else None
        if names is not None:
            check_features(X, names)  # string, unique column names
        matrix = as_feature_matrix(X, names)
        if names is None:
            names = default_feature_names(matrix.shape[1])
        classes, encoded = _encode_binary(y, matrix.shape[0])
        weight = None if sample_weight is None else _sample_weight(sample_weight, matrix.shape[0])

        lgbm = lgb.LGBMClassifier(
            **{**params["lightgbm"], "random_state": seed, "n_jobs": threads["lightgbm"]}
        )
        lgbm.fit(matrix, encoded, sample_weight=weight)
        xgbc = xgb.XGBClassifier(**{**params["xgboost"], "random_state": seed, "n_jobs": threads["xgboost"]})
        xgbc.fit(matrix, encoded, sample_weight=weight)
        forest = RandomForestClassifier(
            **{**params["random_forest"], "random_state": seed, "n_jobs": threads["random_forest"]}
        )
        forest.fit(matrix, encoded, sample_weight=weight)

        self.lightgbm_ = lgbm.booster_
        self.xgboost_ = xgbc.get_booster()
        self.random_forest_ = forest
        self._set_fitted(classes, names, weights)
        return self

    def _set_fitted(self, classes: np.ndarray, names: list[str], weights: dict[str, float]) -> None:
        self.classes_ = classes
        self.n_features_in_ = len(names)
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.weights_ = weights
        self._xgb_threads = -2  # forces set_param on first predict

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise NotFittedError(
                "This ProductionEnsemble is not fitted yet; call fit(X, y) first, "
                "or load a fitted one with ModelRegistry.load()."
            )

    def _positive_proba(self, matrix: np.ndarray, every_family: bool = False) -> dict[str, np.ndarray]:
        """P(positive class) from each family with a non-zero weight (or from all three)."""
        threads = self._threads()
        used = {name: every_family or self.weights_[name] > 0 for name in FAMILIES}
        out: dict[str, np.ndarray] = {}
        if used["lightgbm"]:
            out["lightgbm"] = np.asarray(
                self.lightgbm_.predict(matrix, num_threads=threads["lightgbm"]), dtype=np.float64
            )
        if used["xgboost"]:
            if self._xgb_threads != threads["xgboost"]:
                self.xgboost_.set_param({"nthread": threads["xgboost"]})
                self._xgb_threads = threads["xgboost"]
            xgb_proba = self.xgboost_.inplace_predict(matrix, validate_features=False)
            out["xgboost"] = np.asarray(xgb_proba, dtype=np.float64)  # float32 from XGBoost
        if used["random_forest"]:
            self.random_forest_.n_jobs = threads["random_forest"]
            out["random_forest"] = self.random_forest_.predict_proba(matrix)[:, 1]
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Weighted average of the families' class probabilities, shape (n_samples, 2).

        Raises
        ------
        NotFittedError
            Before ``fit``.
        FeatureMismatchError
            When the feature count differs, or a DataFrame's names or order differ.
        """
        self._check_fitted()
        matrix = check_features(X, list(self.feature_names_in_))
        if matrix.shape[0] == 0:
            return np.empty((0, 2), dtype=np.float64)
        parts = self._positive_proba(matrix)
        positive = np.zeros(matrix.shape[0], dtype=np.float64)
        for name, proba in parts.items():
            positive += self.weights_[name] * proba
        positive = np.clip(positive, 0.0, 1.0)  # guards float round-off only
        return np.column_stack([1.0 - positive, positive])

    def predict_proba_by_model(self, X: Any) -> dict[str, np.ndarray]:
        """Each family's own ``(n_samples, 2)`` probabilities, e.g. to report each model's F1."""
        self._check_fitted()
        matrix = check_features(X, list(self.feature_names_in_))
        parts = self._positive_proba(matrix, every_family=True)
        return {name: np.column_stack([1.0 - p, p]) for name, p in parts.items()}

    def predict(self, X: Any) -> np.ndarray:
        """The label with the higher ensemble probability (ties go to ``classes_[0]``)."""
        proba = self.predict_proba(X)
        return np.asarray(self.classes_[(proba[:, 1] > 0.5).astype(np.intp)])

    # ------------------------------------------------------------------ info
    def get_model_info(self) -> dict[str, Any]:
        """The seed's model description, plus whether and how the model was fitted.

        Keys: ``type``, ``is_fitted``, ``n_features``, ``feature_names``,
        ``individual_models``, ``weights``, ``classes``, ``random_state``, ``n_jobs``,
        ``params`` (per family).
        """
        fitted = hasattr(self, "classes_")
        return {
            "type": type(self).__name__,
            "is_fitted": fitted,
            "n_features": self.n_features_in_ if fitted else None,
            "feature_names": [str(n) for n in self.feature_names_in_] if fitted else [],
            "individual_models": list(FAMILIES),
            "weights": dict(self.weights_) if fitted else validate_weights(self.weights),
            "classes": [c.item() if isinstance(c, np.generic) else c for c in self.classes_]
            if fitted
            else [],
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
            "params": self._family_params(),
        }


def _encode_binary(y: Any, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The two classes, sorted, and ``y`` encoded as 0/1."""
    labels = np.asarray(y.to_numpy() if isinstance(y, pd.Series | pd.DataFrame) else y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels.ravel()
    if labels.ndim != 1:
        raise DataValidationError(f"y must be 1-D (one label per row); got shape {labels.shape}.")
    if labels.shape[0] != n_rows:
        raise DataValidationError(
            f"X and y must have the same number of rows; got {n_rows} and {labels.shape[0]}."
        )
    if n_rows == 0:
        raise DataValidationError("Cannot fit on 0 rows; X and y are empty.")
    missing = pd.isna(labels)
    if missing.any():
        raise DataValidationError(
            f"y has {int(missing.sum())} missing label(s) (first at row {int(np.flatnonzero(missing)[0])}); "
            "drop those rows first (e.g. the last `horizon` bars of next_bar_direction)."
        )
    if labels.dtype == object:
        labels = labels.astype(str) if all(isinstance(v, str) for v in labels) else labels.astype(np.float64)
    classes = np.unique(labels)
    if classes.shape[0] != 2:
        raise DataValidationError(
            f"ProductionEnsemble is a binary classifier: y must hold exactly 2 distinct labels; "
            f"got {classes.shape[0]}: {classes[:10].tolist()!r}."
        )
    return classes, np.searchsorted(classes, labels).astype(np.int64)


def _sample_weight(sample_weight: Any, n_rows: int) -> np.ndarray:
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.shape != (n_rows,) or not np.all(np.isfinite(weight)) or np.any(weight < 0):
        raise DataValidationError(
            f"sample_weight must be {n_rows} finite numbers >= 0 (one per row); got shape {weight.shape}."
        )
    return weight
