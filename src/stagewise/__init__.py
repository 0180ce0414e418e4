"""stagewise: take prediction models on time-ordered events safely into production."""

from __future__ import annotations

from stagewise._exceptions import (
    ArtifactError,
    ArtifactIntegrityError,
    ConfigError,
    DataValidationError,
    FeatureMismatchError,
    NotFittedError,
    NotFoundError,
    StagewiseError,
    StorageError,
    UnsupportedFormatError,
)
from stagewise._version import __version__

__all__ = [
    "ArtifactError",
    "ArtifactIntegrityError",
    "ConfigError",
    "DataValidationError",
    "FeatureMismatchError",
    "NotFittedError",
    "NotFoundError",
    "StagewiseError",
    "StorageError",
    "UnsupportedFormatError",
    "__version__",
]
