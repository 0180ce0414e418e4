"""One feature definition for training, backtests and serving: a :class:`FeatureSet`.

A feature set names how a model's input rows are computed from raw data, and is recorded with
the model version (``flavour.json``, ``feature_set``), so the server computes a request's rows with
exactly the code that computed the training rows:

* ``FeatureSet.races()`` — :func:`~stagewise.features.races.race_entry_features` (one row per boat);
* ``FeatureSet.technical()`` — the seed's 12 technical features of market bars;
* ``FeatureSet.from_function("mypackage.features:kyotei_features", domain="races")`` — a user's
  function ``frame -> DataFrame`` imported by its dotted path. For races it receives one row per
  boat (the race data schema, pre-race columns) and must return one row per boat with the same
  index, computed from pre-race information of the same race only.

Examples
--------
>>> from stagewise.data import simulate_races
>>> races = simulate_races("2025-01-01", "2025-01-01", venues=[24])
>>> rows = FeatureSet.races().compute(races)
>>> rows.shape[1], FeatureSet.from_json(FeatureSet.races().to_json()) == FeatureSet.races()
(18, True)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from stagewise._domain import Domain
from stagewise._exceptions import ConfigError, DataValidationError

__all__ = ["FeatureSet"]

_KINDS = ("races", "technical", "function")
_DOMAINS = tuple(d.value for d in Domain)


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """How input rows are computed: ``kind`` races, technical or function (with its dotted path)."""

    kind: str
    domain: str
    function: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ConfigError(f"A feature set's kind must be one of {list(_KINDS)}; got {self.kind!r}.")
        if self.domain not in _DOMAINS:
            raise ConfigError(f"A feature set's domain must be one of {list(_DOMAINS)}; got {self.domain!r}.")
        if (self.kind == "function") != (self.function is not None):
            raise ConfigError("Only a 'function' feature set has a dotted path, and it must have one.")

    @classmethod
    def races(cls) -> FeatureSet:
        """The built-in race entry features (18 columns)."""
        return cls("races", Domain.RACES.value)

    @classmethod
    def technical(cls) -> FeatureSet:
        """The seed's 12 technical features of OHLCV bars."""
        return cls("technical", Domain.MARKETS.value)

    @classmethod
    def from_function(cls, path: str, *, domain: str = Domain.RACES.value) -> FeatureSet:
        """A user's function by dotted path, ``"package.module:name"`` or ``"package.module.name"``."""
        feature_set = cls("function", domain, path)
        feature_set.resolve()  # refuse a path that does not import now, not at serving time
        return feature_set

    @classmethod
    def parse(cls, spec: str, *, domain: str) -> FeatureSet:
        """``"races"``, ``"technical"`` or a dotted path (the ``--features`` option)."""
        if spec == "races":
            return cls.races()
        if spec == "technical":
            return cls.technical()
        if "." not in spec and ":" not in spec:
            raise ConfigError(
                f"--features must be 'races', 'technical' or a dotted path such as "
                f"'mypackage.features:kyotei_features'; got {spec!r}."
            )
        return cls.from_function(spec, domain=domain)

    def resolve(self) -> Callable[[pd.DataFrame], pd.DataFrame]:
        """The function that computes the rows."""
        if self.kind == "races":
            from stagewise.features.races import race_entry_features

            return race_entry_features
        if self.kind == "technical":
            from stagewise.features.technical import TechnicalIndicators

            return TechnicalIndicators().generate_all_features
        path = str(self.function)
        module_name, sep, attribute = path.partition(":")
        if not sep:
            module_name, _, attribute = path.rpartition(".")
        try:
            found = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ConfigError(
                f"The feature function {path!r} cannot be imported ({type(exc).__name__}: {exc}); "
                "give 'package.module:function' of an installed module."
            ) from None
        if not callable(found):
            raise ConfigError(f"The feature function {path!r} is a {type(found).__name__}, not a function.")
        function: Callable[[pd.DataFrame], pd.DataFrame] = found
        return function

    def compute(self, data: pd.DataFrame) -> pd.DataFrame:
        """The input rows of ``data`` (same index), checked to be a DataFrame of numeric columns."""
        rows = self.resolve()(data)
        if not isinstance(rows, pd.DataFrame):
            raise DataValidationError(
                f"The feature function {self.function or self.kind!r} must return a DataFrame; "
                f"got {type(rows).__name__}."
            )
        if self.domain == Domain.RACES and not rows.index.equals(data.index):
            raise DataValidationError(
                f"The feature function {self.function or self.kind!r} must return one row per boat with "
                "the index of its input."
            )
        return rows

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "domain": self.domain, "function": self.function}

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> FeatureSet:
        return cls(str(body["kind"]), str(body["domain"]), body.get("function"))
