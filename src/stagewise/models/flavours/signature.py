"""The declared input of a model: feature names, order, dtype, allowed values and NaN policy.

An :class:`InputSignature` is stored in every model version's ``flavour.json`` and checked by
the library's ``predict_proba`` and by the server before a row reaches the model. A row that
breaks it raises :class:`~stagewise.SignatureError` naming the feature, the value and the rule,
so a wrong column never turns silently into a wrong prediction.

Examples
--------
>>> import numpy as np
>>> sig = InputSignature((FeatureSpec("pit", "int64", minimum=1, maximum=6, allow_nan=False),
...                       FeatureSpec("rate", "float64")))
>>> sig.check(np.array([[1.0, 5.5], [6.0, np.nan]])).shape
(2, 2)
>>> try:
...     sig.check(np.array([[7.0, 5.5]]))
... except SignatureError as exc:
...     print(str(exc).replace(", which breaks its rule:", "\\n"))
Feature 'pit' (row 0) has value 7.0
 a whole number in [1, 6], never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError, FeatureMismatchError, SignatureError

__all__ = ["DTYPES", "SIGNATURE_FORMAT_VERSION", "FeatureSpec", "InputSignature"]

SIGNATURE_FORMAT_VERSION = 1
"""Layout of the ``signature`` object in ``flavour.json``; bump when a key changes meaning."""

Dtype = Literal["float64", "int64", "bool", "category"]
#: The dtypes a feature may declare.
DTYPES: tuple[str, ...] = ("float64", "int64", "bool", "category")
Category = float | str


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One input column: its name, dtype, allowed values and whether NaN may be sent.

    ``float64`` accepts any finite real number, ``int64`` whole numbers, ``bool`` 0/1 (or
    True/False), ``category`` one of ``categories`` (numbers or strings). ``minimum`` and
    ``maximum`` are inclusive bounds (numeric dtypes). ``allow_nan`` lets a missing value through
    (infinity never passes).
    """

    name: str
    dtype: Dtype = "float64"
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[Category, ...] | None = None
    allow_nan: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"A feature name must be a non-empty string; got {self.name!r}.")
        if self.dtype not in DTYPES:
            raise ConfigError(
                f"Feature {self.name!r}: dtype must be one of {list(DTYPES)}; got {self.dtype!r}."
            )
        if self.dtype == "category":
            if not self.categories:
                raise ConfigError(f"Feature {self.name!r}: a 'category' feature needs its 'categories'.")
            if self.minimum is not None or self.maximum is not None:
                raise ConfigError(
                    f"Feature {self.name!r}: a 'category' feature takes categories, not a range."
                )
        elif self.categories is not None:
            raise ConfigError(f"Feature {self.name!r}: only a 'category' feature takes 'categories'.")
        for bound in (self.minimum, self.maximum):
            if bound is not None and (isinstance(bound, bool) or not math.isfinite(float(bound))):
                raise ConfigError(f"Feature {self.name!r}: bounds must be finite numbers; got {bound!r}.")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ConfigError(
                f"Feature {self.name!r}: minimum {self.minimum} is above maximum {self.maximum}."
            )

    @property
    def is_numeric(self) -> bool:
        """True unless a category holds a string."""
        return not (self.dtype == "category" and any(isinstance(c, str) for c in self.categories or ()))

    def rule(self) -> str:
        """The rule in words, as error messages and ``stagewise models show`` print it."""
        if self.dtype == "category":
            text = f"one of {list(self.categories or ())}"
        else:
            kind = {"float64": "a number", "int64": "a whole number", "bool": "0 or 1"}[self.dtype]
            low = "-inf" if self.minimum is None else _num(self.minimum)
            high = "inf" if self.maximum is None else _num(self.maximum)
            text = kind if self.minimum is None and self.maximum is None else f"{kind} in [{low}, {high}]"
        return text if self.allow_nan else text + ", never NaN"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "allow_nan": self.allow_nan}
        if self.minimum is not None:
            out["minimum"] = float(self.minimum)
        if self.maximum is not None:
            out["maximum"] = float(self.maximum)
        if self.categories is not None:
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> FeatureSpec:
        cats = body.get("categories")
        return cls(
            name=body["name"],
            dtype=body.get("dtype", "float64"),
            minimum=body.get("minimum"),
            maximum=body.get("maximum"),
            categories=None if cats is None else tuple(cats),
            allow_nan=bool(body.get("allow_nan", True)),
        )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True, slots=True)
class InputSignature:
    """The ordered input columns of a model; :meth:`check` enforces them.

    Parameters
    ----------
    features : tuple of FeatureSpec
        In the order the model reads them.
    """

    features: tuple[FeatureSpec, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _rules: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [f.name for f in self.features]
        if not names:
            raise ConfigError("An input signature needs at least one feature.")
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ConfigError(f"Feature names in a signature must be unique; got duplicated {duplicated}.")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})
        specs = self.features
        # the rules as row vectors, so that a matrix is checked in a few NumPy calls
        rules = {
            "low": np.array([-np.inf if f.minimum is None else f.minimum for f in specs], dtype=np.float64),
            "high": np.array([np.inf if f.maximum is None else f.maximum for f in specs], dtype=np.float64),
            "no_nan": np.array([not f.allow_nan for f in specs]),
            "whole": np.array([f.dtype == "int64" for f in specs]),
            "binary": np.array([f.dtype == "bool" for f in specs]),
            "numeric": all(f.is_numeric for f in specs),
            "n": len(specs),
            "checks_whole": any(f.dtype == "int64" for f in specs),
            "checks_binary": any(f.dtype == "bool" for f in specs),
            "categories": [
                (j, np.asarray(f.categories, dtype=np.float64))
                for j, f in enumerate(specs)
                if f.dtype == "category" and f.is_numeric
            ],
        }
        object.__setattr__(self, "_rules", rules)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def is_numeric(self) -> bool:
        """True when every feature is a number (the model reads a float64 matrix)."""
        return bool(self._rules["numeric"])

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_names(cls, names: Sequence[str], *, allow_nan: bool = True) -> InputSignature:
        """Every feature a float64, any value, NaN allowed or not."""
        return cls(tuple(FeatureSpec(str(n), allow_nan=allow_nan) for n in names))

    @classmethod
    def infer(cls, X: Any) -> InputSignature:
        """The signature of training data: names and dtypes; NaN allowed where the data had NaN.

        Ranges are not inferred (a value outside the training range is not wrong by itself);
        string or pandas ``category`` columns become ``category`` with the values seen.
        """
        if isinstance(X, pd.DataFrame):
            specs = []
            for name, column in X.items():
                specs.append(_infer_column(str(name), column))
            return cls(tuple(specs))
        matrix = np.asarray(X, dtype=np.float64)
        if matrix.ndim != 2:
            raise ConfigError(f"Cannot infer a signature from a {matrix.ndim}-D array; give rows × features.")
        from stagewise.models._features import default_feature_names

        names = default_feature_names(matrix.shape[1])
        has_nan = np.asarray(np.isnan(matrix).any(axis=0))
        return cls(tuple(FeatureSpec(n, allow_nan=bool(has_nan[i])) for i, n in enumerate(names)))

    def to_json(self) -> dict[str, Any]:
        return {"format_version": SIGNATURE_FORMAT_VERSION, "features": [f.to_json() for f in self.features]}

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> InputSignature:
        from stagewise._exceptions import UnsupportedFormatError

        fmt = body.get("format_version", 1)
        if not isinstance(fmt, int) or fmt > SIGNATURE_FORMAT_VERSION:
            raise UnsupportedFormatError(
                f"signature format_version {fmt!r} is newer than this stagewise reads "
                f"(readable: [1..{SIGNATURE_FORMAT_VERSION}]); upgrade stagewise to load it."
            )
        return cls(tuple(FeatureSpec.from_json(f) for f in body["features"]))

    def describe(self) -> list[dict[str, Any]]:
        """One row per feature for display: position, name, dtype, rule."""
        return [
            {"position": i, "name": f.name, "dtype": f.dtype, "rule": f.rule(), "allow_nan": f.allow_nan}
            for i, f in enumerate(self.features)
        ]

    # ----------------------------------------------------------------- enforcement
    def check(self, X: Any) -> Any:
        """``X`` in the signature's column order, or :class:`SignatureError`.

        Accepts a DataFrame (columns by name, any extra column is refused), a mapping of
        name → value (one row), or a 2-D array (columns by position). Returns a float64 array
        when every feature is numeric, else a DataFrame with the signature's columns.
        """
        r = self._rules
        if (
            type(X) is np.ndarray
            and X.dtype == np.float64
            and X.ndim == 2
            and X.shape[1] == r["n"]
            and r["numeric"]
        ):
            self._check_numeric(X)  # the server's call: a float64 matrix in the model's order
            return X
        frame: pd.DataFrame | None = None
        if isinstance(X, Mapping):
            X = pd.DataFrame([dict(X)])
        if isinstance(X, pd.DataFrame):
            frame = self._frame_columns(X)
        if self.is_numeric:
            matrix = self._as_matrix(X if frame is None else frame)
            self._check_numeric(matrix)
            return matrix
        if frame is None:
            frame = pd.DataFrame(np.asarray(X, dtype=object), columns=self.names)
            if frame.shape[1] != len(self.features):
                raise FeatureMismatchError(
                    f"feature count mismatch: {frame.shape[1]} != {len(self.features)} "
                    f"(expected features: {self.names})"
                )
        for spec in self.features:
            if spec.is_numeric:
                column = self._numeric_column(spec, frame[spec.name])
                self._check_column(spec, column)
                frame[spec.name] = column
            else:
                self._check_categories(spec, frame[spec.name].to_numpy(dtype=object))
        return frame

    def _frame_columns(self, X: pd.DataFrame) -> pd.DataFrame:
        names = [str(c) for c in X.columns]
        missing = [n for n in self.names if n not in names]
        unexpected = [n for n in names if n not in self._index]
        if missing or unexpected:
            raise FeatureMismatchError(
                f"feature names mismatch: missing {missing}, unexpected {unexpected} "
                f"(expected features, in order: {self.names})"
            )
        return X.loc[:, self.names].copy() if names != self.names else X.copy()

    def _as_matrix(self, X: Any) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            for spec in self.features:
                column = X[spec.name]
                if not (
                    pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype)
                ):
                    bad = next((v for v in column.tolist() if not _is_number(v)), column.iloc[0])
                    raise SignatureError(
                        f"Feature {spec.name!r} has value {bad!r} (dtype {column.dtype}), which breaks its "
                        f"rule: {spec.rule()}."
                    )
            matrix = X.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            try:
                matrix = np.asarray(X, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise SignatureError(f"Features must be numbers ({exc}); expected: {self.names}.") from None
            if matrix.ndim == 1:
                matrix = matrix.reshape(1, -1)
            if matrix.ndim != 2 or matrix.shape[1] != len(self.features):
                got = matrix.shape[-1] if matrix.ndim >= 1 else 0
                raise FeatureMismatchError(
                    f"feature count mismatch: {got} != {len(self.features)} (expected features: {self.names})"
                )
        return np.ascontiguousarray(matrix)

    def _check_numeric(self, matrix: np.ndarray) -> None:
        if matrix.size == 0:
            return
        r = self._rules
        nan = np.isnan(matrix)
        # comparisons with NaN are False and raise no warning: NaN is judged by the NaN rule alone
        bad = np.isinf(matrix) | (nan & r["no_nan"]) | (matrix < r["low"]) | (matrix > r["high"])
        if r["checks_whole"]:
            bad |= r["whole"] & (matrix != np.floor(matrix)) & ~nan
        if r["checks_binary"]:
            bad |= r["binary"] & (matrix != 0.0) & (matrix != 1.0) & ~nan
        for j, allowed in r["categories"]:
            bad[:, j] |= ~np.isin(matrix[:, j], allowed) & ~nan[:, j]
        if bad.any():
            j = int(np.flatnonzero(bad.any(axis=0))[0])  # the first broken feature, as the message names it
            self._check_column(self.features[j], matrix[:, j])

    @staticmethod
    def _numeric_column(spec: FeatureSpec, column: pd.Series) -> np.ndarray:
        try:
            return column.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            bad = next((v for v in column.tolist() if not _is_number(v)), None)
            raise SignatureError(
                f"Feature {spec.name!r} has value {bad!r}, which breaks its rule: {spec.rule()}."
            ) from None

    @staticmethod
    def _check_column(spec: FeatureSpec, values: np.ndarray) -> None:
        nan = np.isnan(values)
        bad = np.isinf(values)
        if not spec.allow_nan:
            bad |= nan
        finite = values[~nan]
        if spec.dtype == "int64":
            bad[~nan] |= finite != np.floor(finite)
        elif spec.dtype == "bool":
            bad[~nan] |= (finite != 0) & (finite != 1)
        elif spec.dtype == "category":
            bad[~nan] |= ~np.isin(finite, np.asarray(spec.categories, dtype=np.float64))
        if spec.minimum is not None:
            bad[~nan] |= finite < spec.minimum
        if spec.maximum is not None:
            bad[~nan] |= finite > spec.maximum
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise SignatureError(
                f"Feature {spec.name!r} (row {row}) has value {float(values[row])!r}, which breaks its rule: "
                f"{spec.rule()}."
            )

    @staticmethod
    def _check_categories(spec: FeatureSpec, values: np.ndarray) -> None:
        allowed = set(spec.categories or ())
        for row, value in enumerate(values.tolist()):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                if spec.allow_nan:
                    continue
            elif value in allowed:
                continue
            raise SignatureError(
                f"Feature {spec.name!r} (row {row}) has value {value!r}, which breaks its rule: "
                f"{spec.rule()}."
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | bool | np.number | np.bool_)


def _infer_column(name: str, column: pd.Series) -> FeatureSpec:
    has_nan = bool(column.isna().any())
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return FeatureSpec(name, "bool", allow_nan=has_nan)
    if isinstance(dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(dtype):
        seen = sorted({v for v in column.dropna().tolist()}, key=lambda v: (isinstance(v, str), v))
        if not seen:
            raise ConfigError(f"Cannot infer the categories of feature {name!r}: it has no values.")
        cats = tuple(v.item() if isinstance(v, np.generic) else v for v in seen)
        return FeatureSpec(name, "category", categories=cats, allow_nan=has_nan)
    if pd.api.types.is_integer_dtype(dtype):
        return FeatureSpec(name, "int64", allow_nan=has_nan)
    return FeatureSpec(name, "float64", allow_nan=has_nan)
