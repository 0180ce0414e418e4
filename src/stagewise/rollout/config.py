"""The rollout configuration document: validation, defaults and the seed's file format.

The seed system's ``config/rollout_config.json`` loads unchanged::

    {"feature_rollouts": {"dynamic_integration": {"stage": "100%", "enabled_at": "2025-11-01"}, ...},
     "updated_at": "2025-12-02 16:12:02"}

stagewise adds, per feature, ``completed`` (set when a promotion finished the rollout),
``hash_mode`` (``"legacy-md5"``: the seed's MD5 into
100 buckets, assumed when absent; ``"blake2b-64"``: the salted scheme of
``docs/bucketing.md``) and ``salt``, plus an optional ``killed`` record; at the top
level ``format_version`` and ``audit_tail`` (the audit entries of the last write, so
an interrupted audit append can be completed). Unknown keys are kept as they are.

Examples
--------
>>> cfg = parse_config({"feature_rollouts": {"f": {"stage": "10%", "enabled_at": "2025-11-01"}},
...                     "updated_at": "2025-12-02 16:12:02"})
>>> cfg.features["f"].hash_mode, cfg.features["f"].stage.name
('legacy-md5', '10%')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from stagewise._exceptions import ConfigError, NotFoundError, UnsupportedFormatError
from stagewise.rollout.bucketing import (
    BUCKETS,
    LEGACY_BUCKETS,
    bucket_of,
    legacy_bucket,
    legacy_checker,
    salted_checker,
)
from stagewise.rollout.stages import Stage, parse_stage

__all__ = [
    "FORMAT_VERSION",
    "HASH_LEGACY",
    "HASH_MODES",
    "HASH_SALTED",
    "RETIRED_KEY",
    "FeatureRollout",
    "RolloutConfig",
    "check_feature_name",
    "parse_config",
]

FORMAT_VERSION = 1
"""Version of the config document this release writes. Version 0 is the seed's file
(no ``format_version`` key). Bump it when a key changes meaning; keep a reader for each
old version and a test that loads it."""

HASH_LEGACY = "legacy-md5"
HASH_SALTED = "blake2b-64"
HASH_MODES = (HASH_LEGACY, HASH_SALTED)
RETIRED_KEY = "retired_variants"
"""Feature key listing the variants rolled back out of its A/B/n split (their buckets serve control)."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")
_FEATURE_KEYS = ("stage", "enabled_at", "hash_mode", "salt", "killed", "completed")
_TOP_KEYS = ("format_version", "feature_rollouts", "updated_at", "audit_tail")


@dataclass(frozen=True)
class FeatureRollout:
    """One feature's rollout state as stored in the config."""

    name: str
    stage: Stage
    enabled_at: str | None = None
    hash_mode: str = HASH_SALTED
    salt: str | None = None
    killed: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    completed: dict[str, Any] | None = None

    @property
    def is_completed(self) -> bool:
        """The rollout finished with a promotion: its challenger is the champion now, so the feature
        is disabled (every unit goes to the champion) and nothing waits for a challenger.

        The one definition the controller (nothing to decide), the server (no challenger needed
        to be ready), ``check status`` and the dashboard share; see :func:`complete_change`.
        """
        return self.completed is not None and self.stage.is_disabled

    @property
    def buckets(self) -> int:
        """How many buckets this feature's hash mode has (100 in legacy mode, 10,000 otherwise)."""
        return LEGACY_BUCKETS if self.hash_mode == HASH_LEGACY else BUCKETS

    @property
    def threshold(self) -> int:
        """Enabled buckets (of 100 in legacy mode, of 10,000 otherwise)."""
        return self.stage.threshold(legacy=self.hash_mode == HASH_LEGACY)

    def bucket(self, unit_id: str | int) -> int:
        """The unit's bucket under this feature's hash mode."""
        if self.hash_mode == HASH_LEGACY:
            return legacy_bucket(unit_id)
        return bucket_of(self.salt or "", unit_id)

    def checker(self) -> Callable[[str | int], bool]:
        """A fast ``unit_id -> enabled`` function for the current stage."""
        if self.hash_mode == HASH_LEGACY:
            return legacy_checker(self.threshold)
        return salted_checker(self.salt or "", self.threshold)

    def to_document(self) -> dict[str, Any]:
        """The feature's JSON object (seed keys first, unknown keys preserved)."""
        doc: dict[str, Any] = {"stage": self.stage.name, "enabled_at": self.enabled_at}
        doc["hash_mode"] = self.hash_mode
        if self.salt is not None:
            doc["salt"] = self.salt
        if self.killed is not None:
            doc["killed"] = self.killed
        if self.completed is not None:
            doc["completed"] = self.completed
        doc.update(self.extra)
        return doc

    def info(self) -> dict[str, Any]:
        """What ``get_rollout_status`` shows for the feature."""
        return {**self.to_document(), "percent": float(self.stage.percent)}


@dataclass(frozen=True)
class RolloutConfig:
    """The whole document: features, ``updated_at``, and the last write's audit entries."""

    features: dict[str, FeatureRollout] = field(default_factory=dict)
    updated_at: str | None = None
    audit_tail: list[dict[str, Any]] = field(default_factory=list)
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def feature(self, name: str) -> FeatureRollout:
        """The named feature, or :class:`NotFoundError` listing the known ones."""
        try:
            return self.features[name]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self.features)) or "none yet (add one with add_feature)"
            raise NotFoundError(f"Unknown rollout feature {name!r}. Known features: {known}.") from None

    def with_feature(self, feature: FeatureRollout) -> RolloutConfig:
        """A copy with ``feature`` added or replaced."""
        return replace(self, features={**self.features, feature.name: feature})

    def with_audit_tail(self, entries: list[dict[str, Any]]) -> RolloutConfig:
        """A copy whose ``audit_tail`` (the last write's audit entries) is ``entries``."""
        return replace(self, audit_tail=list(entries))

    def to_document(self) -> dict[str, Any]:
        """The JSON document as written (always the current format version)."""
        return {
            "format_version": FORMAT_VERSION,
            "feature_rollouts": {name: f.to_document() for name, f in self.features.items()},
            "updated_at": self.updated_at,
            "audit_tail": self.audit_tail,
            **self.extra,
        }


def check_feature_name(name: object) -> str:
    """Validate the name of a feature being created."""
    if type(name) is not str or not _NAME.fullmatch(name):
        raise ConfigError(
            f"The feature name must be 1-128 characters of letters, digits, '_', '.', ':' or '-', "
            f"starting with a letter or digit. Got {name!r}."
        )
    return name


def parse_config(document: object, source: str = "rollout config") -> RolloutConfig:
    """Validate a parsed JSON document (any supported format version) into a :class:`RolloutConfig`.

    Raises :class:`ConfigError` naming the key path, the bad value and what is accepted.
    """
    if not isinstance(document, Mapping):
        raise ConfigError(
            f"{source}: the document must be a JSON object with a 'feature_rollouts' object. "
            f"Got {type(document).__name__}."
        )
    version = document.get("format_version", 0)
    if type(version) is not int or version < 0:
        raise ConfigError(f"{source}: 'format_version' must be an int >= 0. Got {version!r}.")
    if version > FORMAT_VERSION:
        raise UnsupportedFormatError(
            f"{source}: written by a newer stagewise (format_version {version}); this release reads "
            f"versions 0 to {FORMAT_VERSION}. Upgrade stagewise."
        )
    rollouts = document.get("feature_rollouts")
    if not isinstance(rollouts, Mapping):
        raise ConfigError(
            f"{source}: 'feature_rollouts' must be an object mapping feature names to "
            f'{{"stage": ..., "enabled_at": ...}}. Got {rollouts!r}.'
        )
    features = {name: _parse_feature(name, value, source) for name, value in rollouts.items()}
    updated_at = document.get("updated_at")
    if updated_at is not None and type(updated_at) is not str:
        raise ConfigError(f"{source}: 'updated_at' must be a string or null. Got {updated_at!r}.")
    tail = document.get("audit_tail", [])
    if not isinstance(tail, list) or not all(isinstance(e, dict) for e in tail):
        raise ConfigError(f"{source}: 'audit_tail' must be a list of audit entries. Got {tail!r}.")
    extra = {k: v for k, v in document.items() if k not in _TOP_KEYS}
    return RolloutConfig(features, updated_at, list(tail), version, extra)


def _parse_feature(name: object, value: object, source: str) -> FeatureRollout:
    where = f"{source}: feature_rollouts[{name!r}]"
    if type(name) is not str or not name:
        raise ConfigError(f"{source}: feature names must be non-empty strings. Got {name!r}.")
    if not isinstance(value, Mapping):
        raise ConfigError(
            f'{where} must be an object like {{"stage": "10%", "enabled_at": null}}. Got {value!r}.'
        )
    if "stage" not in value:
        raise ConfigError(f"{where} has no 'stage'; accepted keys: {', '.join(_FEATURE_KEYS)}.")
    try:
        stage = parse_stage(value["stage"])
    except ConfigError as exc:
        raise ConfigError(f"{where}.stage: {exc}") from None
    enabled_at = value.get("enabled_at")
    if enabled_at is not None and type(enabled_at) is not str:
        raise ConfigError(f"{where}.enabled_at must be a date string or null. Got {enabled_at!r}.")
    hash_mode = value.get("hash_mode", HASH_LEGACY)
    if hash_mode not in HASH_MODES:
        raise ConfigError(f"{where}.hash_mode must be one of {', '.join(HASH_MODES)}. Got {hash_mode!r}.")
    salt = value.get("salt")
    if hash_mode == HASH_SALTED and (type(salt) is not str or not salt):
        raise ConfigError(
            f"{where}.salt must be a non-empty string for hash_mode {HASH_SALTED!r}. Got {salt!r}."
        )
    if salt is not None and type(salt) is not str:
        raise ConfigError(f"{where}.salt must be a string. Got {salt!r}.")
    killed = value.get("killed")
    if killed is not None and not isinstance(killed, dict):
        raise ConfigError(f"{where}.killed must be an object or null. Got {killed!r}.")
    completed = value.get("completed")
    if completed is not None and not isinstance(completed, dict):
        raise ConfigError(f"{where}.completed must be an object or null. Got {completed!r}.")
    feature = FeatureRollout(
        name=name,
        stage=stage,
        enabled_at=enabled_at,
        hash_mode=hash_mode,
        salt=salt,
        killed=killed,
        extra={k: v for k, v in value.items() if k not in _FEATURE_KEYS},
        completed=completed,
    )
    try:
        feature.threshold  # noqa: B018 - a legacy feature cannot hold a stage finer than 1 %
    except ConfigError:
        raise ConfigError(
            f"{where}.stage {stage.name!r} is finer than the 100 buckets of hash_mode {HASH_LEGACY!r}; "
            "accepted: 'disabled' or whole percentages."
        ) from None
    return feature
