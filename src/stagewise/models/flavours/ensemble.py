"""The flavour of the built-in :class:`~stagewise.models.ProductionEnsemble` (its files as in format 1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError
from stagewise.models.ensemble import ProductionEnsemble
from stagewise.models.flavours._base import FlavourFiles, register_flavour
from stagewise.models.flavours._common import check_fitted, load_options
from stagewise.models.flavours.signature import InputSignature

__all__ = ["EnsembleFlavour"]


@register_flavour
class EnsembleFlavour:
    """The built-in :class:`~stagewise.models.ProductionEnsemble` (files as in format 1).

    Parameters
    ----------
    params : dict, optional
        ``ProductionEnsemble`` parameters for :meth:`fit`.
    signature : InputSignature, optional

    Attributes
    ----------
    model_ : ProductionEnsemble
    signature_ : InputSignature
    """

    name: ClassVar[str] = "ensemble"
    signature_: InputSignature

    def __init__(
        self, params: Mapping[str, Any] | None = None, signature: InputSignature | None = None
    ) -> None:
        self.params = params
        self.signature = signature

    def fit(self, X: Any, y: Any) -> EnsembleFlavour:
        signature = self.signature or InputSignature.infer(X)
        model = ProductionEnsemble(**dict(self.params or {}))
        checked = signature.check(X)
        model.fit(pd.DataFrame(checked, columns=signature.names), y)
        return self._set(model, signature)

    @classmethod
    def from_model(
        cls, model: ProductionEnsemble, signature: InputSignature | None = None
    ) -> EnsembleFlavour:
        """Wrap a fitted ensemble (signature: its feature names, any number, NaN allowed)."""
        model._check_fitted()
        names = [str(n) for n in model.feature_names_in_]
        signature = signature or InputSignature.from_names(names)
        if signature.names != names:
            raise ConfigError(
                f"The signature's features {signature.names} differ from the ensemble's fitted "
                f"features {names}."
            )
        return cls(signature=signature)._set(model, signature)

    def _set(self, model: ProductionEnsemble, signature: InputSignature) -> EnsembleFlavour:
        self.model_ = model
        self.signature_ = signature
        self.classes_ = model.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_fitted(self, "model_")
        return self.model_.predict_proba(self.signature_.check(X))

    def to_files(self) -> FlavourFiles:
        from stagewise.models.artifacts import dump_ensemble

        check_fitted(self, "model_")
        return FlavourFiles(dump_ensemble(self.model_), {})

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], details: Mapping[str, Any]) -> EnsembleFlavour:
        from stagewise.models.artifacts import load_ensemble

        model = load_ensemble(files, n_jobs=load_options().n_jobs)
        flavour = cls()
        flavour.model_ = model
        flavour.classes_ = model.classes_
        return flavour
