"""The scikit-learn flavour: any binary classifier or ``Pipeline``, stored with skops."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError
from stagewise.models.flavours._base import FlavourFiles, register_flavour
from stagewise.models.flavours._common import (
    check_binary_proba,
    check_fitted,
    classes_from_json,
    classes_to_json,
    load_options,
)
from stagewise.models.flavours.signature import InputSignature
from stagewise.models.flavours.trust import audit_skops_types, skops_types

__all__ = ["SklearnFlavour"]

MODEL_FILE = "model.skops"


@register_flavour
class SklearnFlavour:
    """A scikit-learn binary classifier or ``Pipeline`` (``HistGradientBoostingClassifier``,
    ``LogisticRegression``, ``ColumnTransformer`` steps, ...), stored with skops.

    Parameters
    ----------
    estimator : scikit-learn estimator
        Cloned and fitted by :meth:`fit` (the object you pass is not changed).
    signature : InputSignature, optional
        The declared input; inferred from the training data when omitted.

    Attributes
    ----------
    estimator_ : the fitted estimator
    signature_ : InputSignature
    classes_ : ndarray of shape (2,)

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    >>> model = SklearnFlavour(LogisticRegression()).fit(X, [0, 0, 1, 1])
    >>> model.signature_.names, model.predict_proba(X).shape
    (['a', 'b'], (4, 2))
    """

    name: ClassVar[str] = "sklearn"
    signature_: InputSignature

    def __init__(self, estimator: Any = None, signature: InputSignature | None = None) -> None:
        self.estimator = estimator
        self.signature = signature

    def fit(self, X: Any, y: Any, **fit_params: Any) -> SklearnFlavour:
        from sklearn.base import clone

        if self.estimator is None or not hasattr(self.estimator, "fit"):
            raise ConfigError(f"SklearnFlavour needs a scikit-learn estimator; got {self.estimator!r}.")
        signature = self.signature or InputSignature.infer(X)
        checked = signature.check(X)
        rows = _frame(checked, signature) if isinstance(X, pd.DataFrame) else checked
        self.estimator_ = clone(self.estimator).fit(rows, y, **fit_params)
        self.signature_ = signature
        self.classes_ = np.asarray(self.estimator_.classes_)
        classes_to_json(self.classes_)
        return self

    @classmethod
    def from_estimator(cls, fitted: Any, signature: InputSignature | None = None) -> SklearnFlavour:
        """Wrap an already fitted estimator; its signature is checked against what it was fitted on."""
        from sklearn.utils.validation import check_is_fitted

        if not hasattr(fitted, "predict_proba"):
            raise ConfigError(f"{type(fitted).__name__} has no predict_proba; stagewise stores classifiers.")
        check_is_fitted(fitted)
        names = [str(n) for n in getattr(fitted, "feature_names_in_", [])]
        if signature is None:
            n = int(getattr(fitted, "n_features_in_", 0))
            if not names and n == 0:
                raise ConfigError(
                    f"{type(fitted).__name__} does not say how many features it reads; pass signature=."
                )
            from stagewise.models._features import default_feature_names

            signature = InputSignature.from_names(names or default_feature_names(n))
        _agree(signature, names, getattr(fitted, "n_features_in_", None), type(fitted).__name__)
        model = cls(fitted, signature)
        model.estimator_ = fitted
        model.signature_ = signature
        model.classes_ = np.asarray(fitted.classes_)
        classes_to_json(model.classes_)
        return model

    def predict_proba(self, X: Any) -> np.ndarray:
        check_fitted(self, "estimator_")
        checked = self.signature_.check(X)
        rows = _frame(checked, self.signature_) if hasattr(self.estimator_, "feature_names_in_") else checked
        n = len(rows)
        if n == 0:
            return np.empty((0, 2), dtype=np.float64)
        return check_binary_proba(self.estimator_.predict_proba(rows), n, type(self.estimator_).__name__)

    def to_files(self) -> FlavourFiles:
        import skops.io as sio

        check_fitted(self, "estimator_")
        data = sio.dumps(self.estimator_, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        details = {"estimator": f"{type(self.estimator_).__module__}.{type(self.estimator_).__qualname__}"}
        return FlavourFiles({MODEL_FILE: data}, {**details, **classes_to_json(self.classes_)})

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], details: Mapping[str, Any]) -> SklearnFlavour:
        import skops.io as sio

        data = files[MODEL_FILE]
        types = skops_types(data, MODEL_FILE)
        audit_skops_types(data, MODEL_FILE, listed=types, extra=load_options().trusted_types)
        estimator = sio.loads(data, trusted=sorted(types))
        model = cls(estimator)
        model.estimator_ = estimator
        model.classes_ = classes_from_json(details)
        return model


def _frame(checked: Any, signature: InputSignature) -> pd.DataFrame:
    if isinstance(checked, pd.DataFrame):
        return checked
    return pd.DataFrame(np.asarray(checked), columns=signature.names)


def _agree(signature: InputSignature, names: list[str], n_features: Any, who: str) -> None:
    """Refuse a signature that disagrees with what the model was fitted on."""
    if names and names != signature.names:
        raise ConfigError(
            f"The signature's features {signature.names} differ from the {who}'s fitted features {names}."
        )
    if n_features is not None and int(n_features) != len(signature.features):
        raise ConfigError(
            f"The signature declares {len(signature.features)} features but the {who} reads "
            f"{int(n_features)}."
        )
