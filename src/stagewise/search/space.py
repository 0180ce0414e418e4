"""Search spaces: the parameters a search may vary, checked once, before any trial runs.

A space is a mapping from a parameter name to a range (:class:`IntRange`, :class:`FloatRange`)
or a list of choices (:class:`Choice`), plus optional named *feature sets* (subsets of the
domain's feature columns, searched as the categorical parameter ``feature_set``). It is written
in Python or read from a TOML file (``tomllib``) or a YAML file::

    [params]
    "lightgbm.num_leaves" = { type = "int", low = 8, high = 64 }
    "lightgbm.learning_rate" = { type = "float", low = 0.01, high = 0.3, log = true }
    "random_forest.max_features" = { choices = ["sqrt", 0.5] }

    [feature_sets]
    all = "*"
    no_exhibition = ["class_code", "national_win_rate", "motor_2rate"]

Two names belong to the procedure around the model, not to the model (:data:`PROCEDURE`):

* ``calibration``: ``{ choices = ["none", "isotonic", "platt"] }`` (any of them) -- the model
  fitted on the training window's earlier days and a probability calibrator on its last days,
  as ``WalkForwardBacktest(calibration=...)`` does;
* ``bet_margin`` (races): a float range or choices, each ``>= 0`` -- EV bets on the win odds
  when ``p x odds > 1 + margin``, as ``--bets ev --bet-margin``. The margin changes which boats
  are bet, never which boat is ranked first, so a space that tunes it optimises the bets' ROI.

Other parameter names are checked against the model target (:mod:`stagewise.search.targets`);
every mistake is a :class:`~stagewise.ConfigError` naming the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from stagewise._exceptions import ConfigError
from stagewise.search.procedure import PROCEDURE, check_procedure

__all__ = [
    "FEATURE_SET",
    "Choice",
    "FloatRange",
    "IntRange",
    "Parameter",
    "SearchSpace",
    "TrialLike",
    "load_space",
]

#: The name of the categorical parameter that picks one of the space's feature sets.
FEATURE_SET = "feature_set"
_JSON_SCALARS = (str, int, float, bool)


class TrialLike(Protocol):
    """The part of ``optuna.Trial`` a space needs to draw a configuration."""

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


def _number(field_name: str, key: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind if kind is int else (int, float)):
        accepted = "an int" if kind is int else "a number"
        raise ConfigError(f"The '{field_name}.{key}' field must be {accepted}. Got {value!r} instead.")
    if kind is float and not math.isfinite(value):
        raise ConfigError(f"The '{field_name}.{key}' field must be a finite number. Got {value!r} instead.")
    return value


@dataclass(frozen=True)
class IntRange:
    """Integers from ``low`` to ``high``, both included (``log``: sampled on a log scale)."""

    low: int
    high: int
    log: bool = False
    step: int = 1

    def check(self, name: str) -> None:
        _number(name, "low", self.low, int)
        _number(name, "high", self.high, int)
        _number(name, "step", self.step, int)
        if self.high <= self.low:
            raise ConfigError(
                f"The '{name}' range must have low < high. Got low={self.low}, high={self.high} instead."
            )
        if self.step < 1 or (self.log and self.step != 1):
            raise ConfigError(
                f"The '{name}.step' field must be >= 1 (1 with log). Got {self.step!r} instead."
            )
        if self.log and self.low < 1:
            raise ConfigError(f"The '{name}.low' field must be >= 1 with log = true. Got {self.low} instead.")

    def suggest(self, trial: TrialLike, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def describe(self) -> dict[str, Any]:
        return {"type": "int", "low": self.low, "high": self.high, "log": self.log, "step": self.step}


@dataclass(frozen=True)
class FloatRange:
    """Real numbers from ``low`` to ``high`` (``log``: sampled on a log scale)."""

    low: float
    high: float
    log: bool = False

    def check(self, name: str) -> None:
        _number(name, "low", self.low, float)
        _number(name, "high", self.high, float)
        if self.high <= self.low:
            raise ConfigError(
                f"The '{name}' range must have low < high. Got low={self.low}, high={self.high} instead."
            )
        if self.log and self.low <= 0:
            raise ConfigError(f"The '{name}.low' field must be > 0 with log = true. Got {self.low} instead.")

    def suggest(self, trial: TrialLike, name: str) -> float:
        return trial.suggest_float(name, float(self.low), float(self.high), log=self.log)

    def describe(self) -> dict[str, Any]:
        return {"type": "float", "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (strings, numbers, booleans or None)."""

    values: tuple[Any, ...]

    def check(self, name: str) -> None:
        if len(self.values) == 0:
            raise ConfigError(f"The '{name}.choices' field must list at least one value. Got [] instead.")
        for value in self.values:
            if value is not None and not isinstance(value, _JSON_SCALARS):
                raise ConfigError(
                    f"The '{name}.choices' field must hold strings, numbers, booleans or null. "
                    f"Got {value!r} instead."
                )
        if len(set(map(repr, self.values))) != len(self.values):
            raise ConfigError(f"The '{name}.choices' field lists a value twice: {list(self.values)!r}.")

    def suggest(self, trial: TrialLike, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.values))

    def describe(self) -> dict[str, Any]:
        return {"type": "choice", "choices": list(self.values)}


Parameter = IntRange | FloatRange | Choice


@dataclass(frozen=True)
class SearchSpace:
    """Named parameters and optional feature sets; checked when built.

    Examples
    --------
    >>> space = SearchSpace({"lightgbm.num_leaves": IntRange(8, 64)})
    >>> space.names()
    ('lightgbm.num_leaves',)
    >>> SearchSpace({"lightgbm.num_leaves": IntRange(64, 8)})
    Traceback (most recent call last):
    ...
    stagewise._exceptions.ConfigError: The 'lightgbm.num_leaves' range must have low < high. ...
    """

    params: Mapping[str, Parameter]
    feature_sets: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.params, Mapping):
            raise ConfigError(
                f"The 'params' field must be a table of parameters. Got {self.params!r} instead."
            )
        if not self.params and not self.feature_sets:
            raise ConfigError("The search space is empty: give at least one parameter under 'params'.")
        for name, param in self.params.items():
            if not isinstance(name, str) or not name:
                raise ConfigError(f"A parameter name must be a non-empty string. Got {name!r} instead.")
            if name == FEATURE_SET:
                raise ConfigError(
                    f"The parameter name {FEATURE_SET!r} is reserved: list feature sets under 'feature_sets'."
                )
            if not isinstance(param, IntRange | FloatRange | Choice):
                raise ConfigError(
                    f"The '{name}' parameter must be an IntRange, FloatRange or Choice. Got {param!r} "
                    "instead."
                )
            param.check(name)
            if name in PROCEDURE:
                check_procedure(name, param)
        for set_name, columns in self.feature_sets.items():
            if columns is not None and (len(columns) == 0 or not all(isinstance(c, str) for c in columns)):
                raise ConfigError(
                    f"The 'feature_sets.{set_name}' field must be \"*\" or a non-empty list of column names. "
                    f"Got {columns!r} instead."
                )

    def names(self) -> tuple[str, ...]:
        """The model's parameter names (the procedure's, :data:`PROCEDURE`, are not the target's)."""
        return tuple(n for n in self.params if n not in PROCEDURE)

    def tunes(self, name: str) -> bool:
        """Whether the space searches ``name`` (e.g. :data:`BET_MARGIN`)."""
        return name in self.params

    def suggest(self, trial: TrialLike) -> dict[str, Any]:
        """One configuration drawn by ``trial`` (a ``feature_set`` entry when the space has feature sets)."""
        config = {name: param.suggest(trial, name) for name, param in self.params.items()}
        if self.feature_sets:
            config[FEATURE_SET] = trial.suggest_categorical(FEATURE_SET, list(self.feature_sets))
        return config

    def describe(self) -> dict[str, Any]:
        """A JSON description (what the results file and the fingerprint use)."""
        return {
            "params": {name: self.params[name].describe() for name in sorted(self.params)},
            "feature_sets": {
                name: (None if cols is None else list(cols))
                for name, cols in sorted(self.feature_sets.items())
            },
        }

    def fingerprint(self) -> str:
        """SHA-256 of the description: two spaces with the same ranges and choices share it."""
        text = json.dumps(self.describe(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def columns(self, feature_set: str | None, feature_names: Sequence[str]) -> list[int]:
        """Positions of the feature set's columns in ``feature_names`` (all when None or ``"*"``)."""
        if feature_set is None or self.feature_sets.get(feature_set) is None:
            return list(range(len(feature_names)))
        index = {name: i for i, name in enumerate(feature_names)}
        return [index[c] for c in self.feature_sets[feature_set] or ()]

    def check_features(self, feature_names: Sequence[str]) -> None:
        """Refuse a feature set naming a column the domain does not have."""
        known = set(feature_names)
        for set_name, columns in self.feature_sets.items():
            unknown = [c for c in columns or () if c not in known]
            if unknown:
                raise ConfigError(
                    f"The 'feature_sets.{set_name}' field names unknown feature(s) {unknown}. "
                    f"Known: {sorted(known)}."
                )

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SearchSpace:
        """Build a space from the parsed TOML/YAML document (``params`` and ``feature_sets`` tables)."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"A search space file must be a table. Got {type(raw).__name__} instead.")
        unknown = sorted(set(raw) - {"params", "feature_sets"})
        if unknown:
            raise ConfigError(
                f"The search space has unknown section(s) {unknown}; accepted: ['feature_sets', 'params']."
            )
        params_raw = raw.get("params", {})
        if not isinstance(params_raw, Mapping):
            raise ConfigError(f"The 'params' field must be a table. Got {params_raw!r} instead.")
        params: dict[str, Parameter] = {}
        for name, spec in _leaves(params_raw, ""):
            family, _, last = name.rpartition(".")
            if family and last in PROCEDURE:
                raise ConfigError(
                    f"The 'params.{name}' field: {last} belongs to the procedure, not to '{family}': "
                    "write it "
                    "directly under [params], before any [params.<family>] table."
                )
            params[name] = _parameter(name, spec)
        sets_raw = raw.get("feature_sets", {})
        if not isinstance(sets_raw, Mapping):
            raise ConfigError(f"The 'feature_sets' field must be a table. Got {sets_raw!r} instead.")
        sets: dict[str, tuple[str, ...] | None] = {}
        for set_name, columns in sets_raw.items():
            if columns == "*":
                sets[str(set_name)] = None
            elif isinstance(columns, list):
                sets[str(set_name)] = tuple(columns)
            else:
                raise ConfigError(
                    f"The 'feature_sets.{set_name}' field must be \"*\" or a list of column names. "
                    f"Got {columns!r} instead."
                )
        return cls(params, sets)


_SPEC_KEYS = {"type", "low", "high", "log", "step", "choices"}


def _leaves(table: Mapping[str, Any], prefix: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Flatten nested tables (``[params.lightgbm] num_leaves = {...}``) into dotted names."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"The 'params.{name}' field must be a table such as {{ type = \"int\", low = 1, high = 9 }} "
                f"or {{ choices = [...] }}. Got {value!r} instead."
            )
        if set(value) & _SPEC_KEYS:
            out.append((name, value))
        else:
            out.extend(_leaves(value, f"{name}."))
    return out


def _parameter(name: str, spec: Mapping[str, Any]) -> Parameter:
    extra = sorted(set(spec) - _SPEC_KEYS)
    if extra:
        raise ConfigError(
            f"The 'params.{name}' field has unknown key(s) {extra}; accepted: {sorted(_SPEC_KEYS)}."
        )
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list):
            raise ConfigError(f"The 'params.{name}.choices' field must be a list. Got {choices!r} instead.")
        return Choice(tuple(choices))
    kind = spec.get("type")
    if kind not in ("int", "float"):
        raise ConfigError(
            f"The 'params.{name}.type' field must be one of ['float', 'int'] (or give choices). "
            f"Got {kind!r} instead."
        )
    for key in ("low", "high"):
        if key not in spec:
            raise ConfigError(f"The 'params.{name}.{key}' field is missing.")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"The 'params.{name}.log' field must be true or false. Got {log!r} instead.")
    if kind == "int":
        low = _number(f"params.{name}", "low", spec["low"], int)
        high = _number(f"params.{name}", "high", spec["high"], int)
        return IntRange(low, high, log, spec.get("step", 1))
    low = _number(f"params.{name}", "low", spec["low"], float)
    high = _number(f"params.{name}", "high", spec["high"], float)
    return FloatRange(float(low), float(high), log)


def load_space(path: str | Path) -> SearchSpace:
    """Read a space from a ``.toml``, ``.yaml`` or ``.yml`` file; one that does not parse is a ConfigError."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"The '--space' file {str(file)!r} cannot be read: {exc.strerror}.") from None
    suffix = file.suffix.lower()
    if suffix == ".toml":
        try:
            raw: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"The '--space' file {str(file)!r} is not valid TOML: {exc}.") from None
    elif suffix in (".yaml", ".yml"):
        import yaml  # type: ignore[import-untyped]  # PyYAML comes with Optuna; no stubs installed

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"The '--space' file {str(file)!r} is not valid YAML: {first}.") from None
    else:
        raise ConfigError(f"The '--space' file must end in .toml, .yaml or .yml. Got {str(file)!r} instead.")
    return SearchSpace.from_mapping(raw if raw is not None else {})
