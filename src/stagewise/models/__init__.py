"""Models: the ProductionEnsemble, race ranking and the pickle-free ModelRegistry."""

from __future__ import annotations

from stagewise.models.ensemble import ProductionEnsemble

__all__ = ["ProductionEnsemble"]
