"""The ensemble's single-row inference path: compiled trees, tens of microseconds a row.

:func:`compile_ensemble` turns a fitted :class:`~stagewise.models.ProductionEnsemble` into a
:class:`FastEnsemble` that gives the library's probabilities (within 1e-6; LightGBM and the
forest to the last bit, XGBoost within its float32 rounding) at a small fraction of the cost
for one row. How and why: ``docs/fast-inference.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError, DataValidationError, FeatureMismatchError
from stagewise.models._features import check_features
from stagewise.models._params import FAMILIES
from stagewise.serve._forest_walker import ForestWalker, forest_walker
from stagewise.serve._lightgbm_engine import RawScorer
from stagewise.serve._tree_tables import (
    FLOAT32_MAX,
    FamilyTrees,
    engine_model_text,
    forest_trees,
    lightgbm_trees,
    xgboost_trees,
)

__all__ = ["FastEnsemble", "compile_ensemble"]

#: Rows up to this many go through the single-row predictor one by one; more use LightGBM's batch call.
SINGLE_ROW_LIMIT = 32

#: LightGBM's ``kZeroThreshold``: it reads an input with |x| <= this as exactly 0. LightGBM declares
#: it ``const double kZeroThreshold = 1e-35f``: the float32 nearest 1e-35 (1.0000000180e-35), not
#: 1e-35 itself; the exactness check at load found rows between the two scored differently.
TINY = float(np.float32(1e-35))

_REALS = (int, float, np.integer, np.floating, np.bool_)


class FastEnsemble:
    """A compiled ProductionEnsemble: the same probabilities, a row in microseconds.

    Built by :func:`compile_ensemble`. It keeps the library model for one rare case: a row with
    a value of magnitude in (0, 1e-35], which LightGBM's input reader rounds to 0 while XGBoost
    and scikit-learn do not, is scored by the library.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    weights_ : dict
        The normalised vote weights; families with weight 0 are not evaluated.
    """

    def __init__(
        self,
        families: list[FamilyTrees],
        weights: Mapping[str, float],
        feature_names: list[str],
        classes: np.ndarray,
        library: Any,
        forest: ForestWalker | None = None,
    ) -> None:
        self.classes_ = classes
        self.feature_names_in_ = np.asarray(feature_names, dtype=object)
        self.n_features_in_ = len(feature_names)
        self.weights_ = dict(weights)
        self._names = list(feature_names)
        self._name_set = frozenset(feature_names)
        self._families = families
        self._weights = [self.weights_[f.name] for f in families]
        self._forest = forest
        self._forest_weight = self.weights_["random_forest"]
        xgboost_trees = any(f.name != "lightgbm" for f in families)
        # XGBoost and scikit-learn read float32: a larger |x| would be infinity for them
        reads_float32 = forest is not None or xgboost_trees
        self._limit = FLOAT32_MAX if reads_float32 else float(np.finfo(np.float64).max)
        # LightGBM reads |x| <= 1e-35 as 0; the others do not, so such rows go to the library
        self._tiny = TINY if xgboost_trees else 0.0
        self._library = library
        n = len(feature_names)
        self._scorer = RawScorer(engine_model_text(families, n), n) if families else None

    # ------------------------------------------------------------------ predict
    def predict_proba(self, X: Any) -> np.ndarray:
        """Weighted average of the families' class probabilities, shape (n_samples, 2).

        Accepts what :meth:`ProductionEnsemble.predict_proba` accepts, with the same checks.

        Raises
        ------
        FeatureMismatchError
            On a wrong feature count, or a DataFrame whose names or order differ.
        DataValidationError
            On a non-numeric or infinite value, or one beyond float32's range.
        """
        if isinstance(X, np.ndarray) and X.dtype == np.float64 and X.shape[-1:] == (self.n_features_in_,):
            matrix = X  # what check_features would return, short of its range check (below)
        else:
            matrix = check_features(X, self._names)
        if matrix.ndim != 2:
            matrix = check_features(X, self._names)  # raises the library's "must be 2-D"
        if matrix.shape[0] == 0:
            return np.empty((0, 2), dtype=np.float64)
        if matrix.shape[0] <= SINGLE_ROW_LIMIT:
            positive = np.array([self._positive_one(row, matrix) for row in matrix])
            return np.column_stack([1.0 - positive, positive])
        tiny = self._check_range(matrix)
        positive = np.zeros(matrix.shape[0], dtype=np.float64)
        if self._scorer is not None:
            raw = self._scorer.many(np.ascontiguousarray(matrix))
            for j, family in enumerate(self._families):
                positive += self._weights[j] * _probabilities(family, raw[:, j])
        if self._forest is not None:
            positive += self._forest_weight * np.array([self._forest.mean(row) for row in matrix])
        positive = np.clip(positive, 0.0, 1.0)
        proba = np.column_stack([1.0 - positive, positive])
        if tiny.any():
            proba[tiny] = self._library.predict_proba(matrix[tiny])
        return proba

    def predict_proba_one(self, row: Any) -> np.ndarray:
        """Class probabilities of one row, shape (2,): ``[P(classes_[0]), P(classes_[1])]``.

        Parameters
        ----------
        row : 1-D array-like or mapping
            ``n_features_in_`` numbers in the fitted order, or a mapping from every feature
            name to its number. NaN means missing, as in the library.

        Raises
        ------
        FeatureMismatchError
            On a wrong length, or a mapping with a missing or unknown feature name.
        DataValidationError
            On a non-numeric or infinite value, or one beyond float32's range.
        """
        values = self._row(row)
        positive = self._positive_one(values, values)
        return np.array([1.0 - positive, positive])

    def _positive_one(self, values: np.ndarray, given: np.ndarray) -> float:
        """P(positive) of one checked row; ``given`` is what the caller passed, for error messages."""
        limit, tiny = self._limit, self._tiny
        for number in values.tolist():  # plain floats: faster than NumPy on one short row
            magnitude = abs(number)
            if (magnitude > limit or 0.0 < magnitude <= tiny) and self._check_range(given).any():
                return float(self._library.predict_proba(values[None, :])[0, 1])
        positive = 0.0
        if self._scorer is not None:
            raw = self._scorer.one(values)
            for j, family in enumerate(self._families):
                positive += self._weights[j] * _probability(family, raw[j])
        if self._forest is not None:  # last, as in the library's sum
            positive += self._forest_weight * self._forest.mean(values)
        return min(max(positive, 0.0), 1.0)

    # ------------------------------------------------------------------ input checks
    def _row(self, row: Any) -> np.ndarray:
        if isinstance(row, pd.Series) and all(isinstance(k, str) for k in row.index):
            row = row.to_dict()  # a labelled row is matched by name, like a mapping, never by position
        if isinstance(row, Mapping):
            values = self._mapping_values(row)
        else:
            try:
                values = np.ascontiguousarray(row, dtype=np.float64)
            except (TypeError, ValueError, OverflowError) as exc:
                raise DataValidationError(f"row must be {self.n_features_in_} numbers; {exc}.") from None
            if values.ndim != 1:
                raise DataValidationError(
                    f"row must be 1-D ({self.n_features_in_} numbers); got shape {values.shape}. "
                    "Use predict_proba for a 2-D matrix."
                )
            if values.shape[0] != self.n_features_in_:
                raise FeatureMismatchError(
                    f"feature count mismatch: {values.shape[0]} != {self.n_features_in_} "
                    f"(expected features: {self._names})"
                )
        return values

    def _mapping_values(self, row: Mapping[Any, Any]) -> np.ndarray:
        if len(row) != self.n_features_in_ or not self._name_set.issuperset(row):
            missing = [n for n in self._names if n not in row]
            unexpected = [str(k) for k in row if k not in self._name_set]
            raise FeatureMismatchError(
                f"feature names mismatch: missing {missing}, unexpected {unexpected} "
                f"(expected features: {self._names})"
            )
        values = [row[name] for name in self._names]
        for name, value in zip(self._names, values, strict=True):
            if not isinstance(value, _REALS):
                raise DataValidationError(
                    f"Feature {name!r} must be a number (int, float or bool; NaN for missing); got {value!r}."
                )
        try:
            return np.array(values, dtype=np.float64)
        except OverflowError:
            raise DataValidationError(
                f"row holds a number too large for a float; features must fit in ±{FLOAT32_MAX:.6g}."
            ) from None

    def _check_range(self, values: np.ndarray) -> Any:
        """Refuse infinity, and |x| beyond float32 when XGBoost or the forest reads x.

        Returns which rows hold a value LightGBM would read as 0 but the others would not
        (0 < |x| <= 1e-35): a bool for one row, a bool array for a matrix.
        """
        magnitude = np.abs(values)
        outside = magnitude > self._limit
        if not outside.any():
            tiny = (magnitude <= self._tiny) & (magnitude > 0.0)
            return tiny.any(axis=-1)
        columns = np.flatnonzero(outside.any(axis=0) if outside.ndim == 2 else outside).tolist()
        infinite = np.isinf(values)
        if infinite.any():
            labels = [self._names[i] for i in columns if infinite[..., i].any()]
            raise DataValidationError(
                f"Features must be finite or NaN; infinite values in {labels!r} "
                f"({int(infinite.sum())} cell(s)). Replace them before predicting."
            )
        labels = [self._names[i] for i in columns]
        raise DataValidationError(
            f"Features {labels!r} hold values beyond ±{FLOAT32_MAX:.6g}; XGBoost and RandomForest read "
            "features as float32, where they would be infinite. Rescale them."
        )


def _probability(family: FamilyTrees, raw: float) -> float:
    if family.link == "mean":
        return raw / family.divisor
    if family.divisor != 1.0:
        raw = raw / family.divisor
    return 1.0 / (1.0 + math.exp(-family.scale * (raw + family.offset)))


def _probabilities(family: FamilyTrees, raw: np.ndarray) -> np.ndarray:
    if family.link == "mean":
        return raw / family.divisor
    if family.divisor != 1.0:
        raw = raw / family.divisor
    out: np.ndarray = 1.0 / (1.0 + np.exp(-family.scale * (raw + family.offset)))
    return out


def compile_ensemble(model: Any) -> FastEnsemble:
    """Compile a fitted ProductionEnsemble into a :class:`FastEnsemble`.

    The boosters with a non-zero weight are rewritten as LightGBM trees (XGBoost's float32
    split rule turned into exact float64 thresholds) and loaded into one LightGBM single-row
    predictor; the forest goes to a small C walker built once per process with the machine's
    compiler, or, without one, into the LightGBM predictor too (scikit-learn's float32 rule
    rewritten the same way). Nothing is written to disk except the walker's build, in a private
    temporary directory removed right after loading.

    Raises
    ------
    NotFittedError
        Before ``fit``.
    ConfigError
        For a model the fast path cannot reproduce (not a ProductionEnsemble, an XGBoost
        ``dart`` booster, categorical splits, linear trees); serve those with the library.

    Examples
    --------
    >>> import numpy as np
    >>> from stagewise.models import ProductionEnsemble
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 12))
    >>> y = (X[:, 0] + 0.5 * X[:, 3] > 0).astype(int)
    >>> small = {"n_estimators": 10}
    >>> model = ProductionEnsemble(lgbm_params=small, xgb_params=small, rf_params=small).fit(X, y)
    >>> fast = compile_ensemble(model)
    >>> bool(np.abs(fast.predict_proba(X) - model.predict_proba(X)).max() <= 1e-6)
    True
    >>> fast.predict_proba_one(X[0]).shape
    (2,)
    """
    from stagewise.models import ProductionEnsemble

    if not isinstance(model, ProductionEnsemble):
        raise ConfigError(f"compile_ensemble needs a fitted ProductionEnsemble; got {type(model).__name__}.")
    model._check_fitted()
    forest = forest_walker(model.random_forest_) if model.weights_["random_forest"] > 0 else None
    readers = {"lightgbm": lightgbm_trees, "xgboost": xgboost_trees, "random_forest": forest_trees}
    attributes = {"lightgbm": "lightgbm_", "xgboost": "xgboost_", "random_forest": "random_forest_"}
    families = [
        readers[name](getattr(model, attributes[name]))
        for name in FAMILIES
        if model.weights_[name] > 0 and not (name == "random_forest" and forest is not None)
    ]
    names = [str(n) for n in model.feature_names_in_]
    return FastEnsemble(families, model.weights_, names, np.asarray(model.classes_), model, forest)
