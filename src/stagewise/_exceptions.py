"""The exception tree of stagewise.

Every error a user can cause is a :class:`StagewiseError`. Specific errors also
subclass the matching builtin so that ``except ValueError`` keeps working::

    StagewiseError
    ├── ConfigError            (ValueError)   a parameter or config file is invalid
    │   └── UnsupportedModelError             a model object no flavour can store
    ├── DataValidationError    (ValueError)   a data set, row or payload breaks its schema
    │   ├── FeatureMismatchError              feature count or order differs from the model's
    │   └── SignatureError                    a value breaks the model's declared input signature
    ├── NotFittedError         (ValueError, AttributeError)  a model is used before ``fit``
    ├── ArtifactError          (OSError)      a stored artifact cannot be used
    │   ├── ArtifactIntegrityError            a hash does not match: tampered or truncated
    │   └── UnsupportedFormatError            written by a newer or unknown format version
    ├── NotFoundError          (LookupError)  a model, version, alias, feature or file is missing
    └── StorageError           (OSError)      a database or file store failed

Messages name the field, the bad value and what would be accepted.
"""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "ArtifactIntegrityError",
    "ConfigError",
    "DataValidationError",
    "FeatureMismatchError",
    "NotFittedError",
    "NotFoundError",
    "SignatureError",
    "StagewiseError",
    "StorageError",
    "UnsupportedFormatError",
    "UnsupportedModelError",
]


class StagewiseError(Exception):
    """Base class of every error stagewise raises on purpose."""


class ConfigError(StagewiseError, ValueError):
    """A parameter or configuration file has a value that is not accepted."""


class DataValidationError(StagewiseError, ValueError):
    """A data set, row or request payload does not satisfy its schema."""


class FeatureMismatchError(DataValidationError):
    """The features given to a model differ in count or order from those it was fitted on."""


class SignatureError(DataValidationError):
    """A value breaks the model's declared input signature (dtype, range, categories or NaN policy)."""


class UnsupportedModelError(ConfigError):
    """A model object is of a type no model flavour can store."""


class NotFittedError(StagewiseError, ValueError, AttributeError):
    """A model was asked to predict before it was fitted."""


class ArtifactError(StagewiseError, OSError):
    """A stored artifact (model, manifest, metadata) cannot be used."""


class ArtifactIntegrityError(ArtifactError):
    """An artifact's SHA-256 differs from its manifest: it was changed or truncated."""


class UnsupportedFormatError(ArtifactError):
    """An artifact or file was written in a format version this release cannot read."""


class NotFoundError(StagewiseError, LookupError):
    """A model, version, alias, feature or file that was asked for does not exist."""


class StorageError(StagewiseError, OSError):
    """A database or file store failed in a way that is not the caller's input."""
