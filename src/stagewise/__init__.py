"""stagewise: take prediction models on time-ordered events safely into production."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stagewise._exceptions import (
    ArtifactError,
    ArtifactIntegrityError,
    ConfigError,
    DataValidationError,
    FeatureMismatchError,
    NotFittedError,
    NotFoundError,
    SignatureError,
    StagewiseError,
    StorageError,
    UnsupportedFormatError,
    UnsupportedModelError,
)
from stagewise._version import __version__

if TYPE_CHECKING:
    from stagewise.backtest import WalkForwardBacktest
    from stagewise.data.races import RaceSimulator, load_races, simulate_races
    from stagewise.features import TechnicalIndicators
    from stagewise.models import ModelRegistry, ProductionEnsemble
    from stagewise.monitor import PerformanceMonitor
    from stagewise.rollout import GradualRollout

__all__ = [
    "ArtifactError",
    "ArtifactIntegrityError",
    "ConfigError",
    "DataValidationError",
    "FeatureMismatchError",
    "GradualRollout",
    "ModelRegistry",
    "NotFittedError",
    "NotFoundError",
    "PerformanceMonitor",
    "ProductionEnsemble",
    "RaceSimulator",
    "SignatureError",
    "StagewiseError",
    "StorageError",
    "TechnicalIndicators",
    "UnsupportedFormatError",
    "UnsupportedModelError",
    "WalkForwardBacktest",
    "__version__",
    "load_races",
    "simulate_races",
]

# Heavy entry points load on first use, so that `import stagewise` (and the CLI's --help) stays fast.
_LAZY = {
    "GradualRollout": "stagewise.rollout",
    "ModelRegistry": "stagewise.models",
    "PerformanceMonitor": "stagewise.monitor",
    "ProductionEnsemble": "stagewise.models",
    "RaceSimulator": "stagewise.data.races",
    "TechnicalIndicators": "stagewise.features",
    "WalkForwardBacktest": "stagewise.backtest",
    "load_races": "stagewise.data.races",
    "simulate_races": "stagewise.data.races",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'stagewise' has no attribute {name!r}")
