"""Models: the ProductionEnsemble, race ranking and the pickle-free ModelRegistry."""

from __future__ import annotations

from stagewise.models.artifacts import FORMAT_VERSION, TRUSTED_TYPES
from stagewise.models.ensemble import ProductionEnsemble
from stagewise.models.races import predicted_orders, rank_races
from stagewise.models.registry import ModelRegistry, VersionSummary

__all__ = [
    "FORMAT_VERSION",
    "TRUSTED_TYPES",
    "ModelRegistry",
    "ProductionEnsemble",
    "VersionSummary",
    "predicted_orders",
    "rank_races",
]
