"""One LightGBM model (its text format) or one XGBoost model (UBJSON) as a flavour."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np

from stagewise._exceptions import ArtifactError, ConfigError
from stagewise.models._params import FAMILY_DEFAULTS, validate_family_params
from stagewise.models.flavours._base import FlavourFiles, register_flavour
from stagewise.models.flavours._common import check_fitted, classes_from_json, classes_to_json, load_options
from stagewise.models.flavours.signature import InputSignature
from stagewise.models.flavours.sklearn import _agree

__all__ = ["LightGBMFlavour", "XGBoostFlavour"]


def _fit_frame(X: Any, signature: InputSignature | None) -> tuple[np.ndarray, InputSignature]:
    sig = signature or InputSignature.infer(X)
    if not sig.is_numeric:
        raise ConfigError(
            "LightGBM and XGBoost flavours read numbers only; encode the category features first."
        )
    return np.asarray(sig.check(X), dtype=np.float64), sig


class _OneBooster:
    """What the two single-booster flavours share: settings, the signature check, two columns out."""

    signature_: InputSignature
    booster_: Any
    classes_: np.ndarray

    def __init__(
        self,
        params: Mapping[str, Any] | None = None,
        signature: InputSignature | None = None,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.params = params
        self.signature = signature
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _settings(self, family: str) -> dict[str, Any]:
        settings = {**FAMILY_DEFAULTS[family], **validate_family_params("params", self.params)}
        settings.update(random_state=self.random_state, n_jobs=self.n_jobs)
        return settings

    def _keep(self, booster: Any, signature: InputSignature, classes: Any) -> None:
        self.booster_ = booster
        self.signature_ = signature
        self.classes_ = np.asarray(classes)
        classes_to_json(self.classes_)

    @classmethod
    def _loaded(cls, booster: Any, details: Mapping[str, Any]) -> Self:
        model = cls()
        model.booster_ = booster
        model.classes_ = classes_from_json(details)
        return model

    def _positive(self, matrix: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, X: Any) -> np.ndarray:
        check_fitted(self, "booster_")
        matrix = np.asarray(self.signature_.check(X), dtype=np.float64)
        if matrix.shape[0] == 0:
            return np.empty((0, 2), dtype=np.float64)
        positive = np.asarray(self._positive(matrix), dtype=np.float64)
        return np.column_stack([1.0 - positive, positive])


@register_flavour
class LightGBMFlavour(_OneBooster):
    """A single LightGBM binary model, stored in LightGBM's own text format.

    Parameters
    ----------
    params : dict, optional
        ``LGBMClassifier`` settings merged over the ensemble's LightGBM defaults.
    signature : InputSignature, optional
    random_state, n_jobs : int

    Attributes
    ----------
    booster_ : lightgbm.Booster
    signature_ : InputSignature
    classes_ : ndarray of shape (2,)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    >>> model = LightGBMFlavour({"n_estimators": 10}).fit(X, y)
    >>> model.predict_proba(X[:2]).shape
    (2, 2)
    """

    name: ClassVar[str] = "lightgbm"

    def fit(self, X: Any, y: Any) -> LightGBMFlavour:
        import lightgbm as lgb

        matrix, sig = _fit_frame(X, self.signature)
        classifier = lgb.LGBMClassifier(**self._settings("lightgbm")).fit(matrix, np.asarray(y))
        return self._set(classifier.booster_, sig, classifier.classes_)

    def _set(self, booster: Any, signature: InputSignature, classes: Any) -> LightGBMFlavour:
        text = booster.model_to_string(num_iteration=-1)
        objective = next((ln for ln in text.splitlines()[:20] if ln.startswith("objective=")), "objective=?")
        if not objective.startswith("objective=binary"):
            raise ConfigError(
                f"The LightGBM flavour stores binary models; this one has {objective!r}. "
                "Wrap it in SklearnFlavour or train it with objective='binary'."
            )
        _agree(signature, [], booster.num_feature(), "LightGBM model")
        self._keep(booster, signature, classes)
        return self

    @classmethod
    def from_booster(cls, model: Any, signature: InputSignature | None = None) -> LightGBMFlavour:
        """Wrap a fitted ``lightgbm.Booster`` or ``LGBMClassifier``."""
        booster = getattr(model, "booster_", model)
        classes = getattr(model, "classes_", np.array([0, 1]))
        if signature is None:
            names = [str(n) for n in booster.feature_name()]
            if all(n.startswith("Column_") for n in names):
                from stagewise.models._features import default_feature_names

                names = default_feature_names(len(names))
            signature = InputSignature.from_names(names)
        return cls(signature=signature)._set(booster, signature, classes)

    def _positive(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.predict(matrix, num_threads=1))

    def to_files(self) -> FlavourFiles:
        check_fitted(self, "booster_")
        text = self.booster_.model_to_string(num_iteration=-1).encode("utf-8")
        return FlavourFiles({"model.txt": text}, classes_to_json(self.classes_))

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], details: Mapping[str, Any]) -> LightGBMFlavour:
        import lightgbm as lgb

        try:
            booster = lgb.Booster(model_str=files["model.txt"].decode("utf-8"))
        except (lgb.basic.LightGBMError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"model.txt: not a readable LightGBM model ({exc}).") from None
        return cls._loaded(booster, details)


@register_flavour
class XGBoostFlavour(_OneBooster):
    """A single XGBoost ``binary:logistic`` model, stored in XGBoost's UBJSON format.

    Parameters, attributes and behaviour as :class:`LightGBMFlavour` (``booster_`` is an
    ``xgboost.Booster``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    >>> XGBoostFlavour({"n_estimators": 10}).fit(X, y).predict_proba(X[:2]).shape
    (2, 2)
    """

    name: ClassVar[str] = "xgboost"

    def fit(self, X: Any, y: Any) -> XGBoostFlavour:
        import xgboost as xgb

        matrix, sig = _fit_frame(X, self.signature)
        settings = self._settings("xgboost")
        labels = np.asarray(y)
        classes = np.unique(labels)
        classifier = xgb.XGBClassifier(**settings).fit(matrix, np.searchsorted(classes, labels))
        return self._set(classifier.get_booster(), sig, classes)

    def _set(self, booster: Any, signature: InputSignature, classes: Any) -> XGBoostFlavour:
        objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
        if objective != "binary:logistic":
            raise ConfigError(
                f"The XGBoost flavour stores 'binary:logistic' models; this one has {objective!r}."
            )
        _agree(signature, [], booster.num_features(), "XGBoost model")
        booster.set_param({"nthread": 1})
        self._keep(booster, signature, classes)
        return self

    @classmethod
    def from_booster(cls, model: Any, signature: InputSignature | None = None) -> XGBoostFlavour:
        """Wrap a fitted ``xgboost.Booster`` or ``XGBClassifier``."""
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        classes = getattr(model, "classes_", np.array([0, 1]))
        if signature is None:
            from stagewise.models._features import default_feature_names

            names = booster.feature_names or default_feature_names(booster.num_features())
            signature = InputSignature.from_names([str(n) for n in names])
        return cls(signature=signature)._set(booster, signature, classes)

    def _positive(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.inplace_predict(matrix, validate_features=False))

    def to_files(self) -> FlavourFiles:
        check_fitted(self, "booster_")
        return FlavourFiles(
            {"model.ubj": bytes(self.booster_.save_raw(raw_format="ubj"))}, classes_to_json(self.classes_)
        )

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], details: Mapping[str, Any]) -> XGBoostFlavour:
        import xgboost as xgb

        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(files["model.ubj"]))
        except xgb.core.XGBoostError as exc:
            raise ArtifactError(f"model.ubj: not a readable XGBoost model ({exc}).") from None
        booster.set_param({"nthread": load_options().n_jobs or 1})
        return cls._loaded(booster, details)
