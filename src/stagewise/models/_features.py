"""The feature contract shared by every stagewise model: names, count and order.

A model remembers the names and order of the columns it was fitted on. At predict
time a DataFrame must carry exactly those names in exactly that order; a bare
array only needs the same number of columns. Anything else raises
:class:`~stagewise.FeatureMismatchError` stating what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from stagewise._exceptions import DataValidationError, FeatureMismatchError
from stagewise.features.technical import FEATURE_NAMES

__all__ = ["SEED_FEATURE_NAMES", "as_feature_matrix", "check_features", "default_feature_names"]

#: The seed's 12 market features, in the seed's order.
SEED_FEATURE_NAMES: tuple[str, ...] = tuple(FEATURE_NAMES)


def default_feature_names(n_features: int) -> list[str]:
    """Names for columns given without names: the seed's 12 market names, else ``x0 .. x{n-1}``."""
    if n_features == len(SEED_FEATURE_NAMES):
        return list(SEED_FEATURE_NAMES)
    return [f"x{i}" for i in range(n_features)]


def _frame_names(X: pd.DataFrame) -> list[str]:
    names = list(X.columns)
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise DataValidationError(
            f"Feature names must be strings; got column name(s) {bad!r}. "
            "Rename the columns or pass X.to_numpy()."
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DataValidationError(f"Feature names must be unique; got duplicated column(s) {duplicated!r}.")
    return names


def as_feature_matrix(X: Any, names: Sequence[str] | None = None) -> np.ndarray:
    """``X`` as a 2-D float64 array, with a clear error for non-numeric or infinite values.

    NaN is allowed (LightGBM, XGBoost and RandomForest all handle missing values); an
    infinite value is not, because no model treats it meaningfully.
    """
    if isinstance(X, pd.DataFrame):
        non_numeric = [str(c) for c, t in X.dtypes.items() if not (pd.api.types.is_numeric_dtype(t))]
        if non_numeric:
            raise DataValidationError(
                f"Every feature must be numeric (int, float or bool); column(s) {non_numeric!r} are not."
            )
        arr = X.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise DataValidationError(f"X must be a numeric 2-D array or DataFrame; {exc}.") from None
    if arr.ndim != 2:
        hint = " For a single row use X.reshape(1, -1)." if arr.ndim == 1 else ""
        raise DataValidationError(
            f"X must be 2-D (rows × features); got {arr.ndim}-D shape {arr.shape}.{hint}"
        )
    infinite = np.isinf(arr)
    if infinite.any():
        cols = np.flatnonzero(infinite.any(axis=0))
        labels = [names[i] if names is not None and i < len(names) else f"column {i}" for i in cols.tolist()]
        raise DataValidationError(
            f"Features must be finite or NaN; infinite values in {labels!r} "
            f"({int(infinite.sum())} cell(s)). Replace them before fitting or predicting."
        )
    return np.ascontiguousarray(arr)


def check_features(X: Any, expected: Sequence[str]) -> np.ndarray:
    """Check ``X`` against the fitted feature names and return it as a float64 matrix.

    Raises
    ------
    FeatureMismatchError
        On a wrong column count (``"feature count mismatch: 10 != 12 ..."``), on a
        DataFrame whose columns are the right names in the wrong order (both orders are
        listed), or on a DataFrame with missing or unexpected names.
    """
    expected = list(expected)
    if isinstance(X, pd.DataFrame):
        names = _frame_names(X)
        if len(names) != len(expected):
            raise FeatureMismatchError(
                f"feature count mismatch: {len(names)} != {len(expected)} "
                f"(got features: {names}; expected features: {expected})"
            )
        if names != expected:
            if set(names) == set(expected):
                first = next(i for i, (a, b) in enumerate(zip(names, expected, strict=True)) if a != b)
                raise FeatureMismatchError(
                    f"feature order mismatch: first difference at position {first} "
                    f"({names[first]!r} != {expected[first]!r}); got order {names}, "
                    f"expected order {expected}. Reorder with X[expected_features]."
                )
            missing = [n for n in expected if n not in names]
            unexpected = [n for n in names if n not in expected]
            raise FeatureMismatchError(
                f"feature names mismatch: missing {missing}, unexpected {unexpected} "
                f"(expected features: {expected})"
            )
        return as_feature_matrix(X, expected)
    matrix = as_feature_matrix(X, expected)
    if matrix.shape[1] != len(expected):
        raise FeatureMismatchError(
            f"feature count mismatch: {matrix.shape[1]} != {len(expected)} (expected features: {expected})"
        )
    return matrix
