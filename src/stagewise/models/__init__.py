"""Models: the ProductionEnsemble, flavours with input signatures, race ranking, the ModelRegistry."""

from __future__ import annotations

from stagewise.models.artifacts import TRUSTED_TYPES
from stagewise.models.ensemble import ProductionEnsemble
from stagewise.models.flavours import (
    FORMAT_VERSION,
    BlendFlavour,
    CalibratedFlavour,
    EnsembleFlavour,
    FeatureSpec,
    Flavour,
    InputSignature,
    LightGBMFlavour,
    RaceFlavour,
    SklearnFlavour,
    XGBoostFlavour,
    as_flavour,
)
from stagewise.models.races import predicted_orders, rank_races
from stagewise.models.registry import ModelRegistry, VersionSummary

__all__ = [
    "FORMAT_VERSION",
    "TRUSTED_TYPES",
    "BlendFlavour",
    "CalibratedFlavour",
    "EnsembleFlavour",
    "FeatureSpec",
    "Flavour",
    "InputSignature",
    "LightGBMFlavour",
    "ModelRegistry",
    "ProductionEnsemble",
    "RaceFlavour",
    "SklearnFlavour",
    "VersionSummary",
    "XGBoostFlavour",
    "as_flavour",
    "predicted_orders",
    "rank_races",
]
