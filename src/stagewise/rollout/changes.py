"""The changes a rollout config can undergo, as pure functions (config in, config and audit records out).

Each ``*_change`` function validates its arguments at once (so bad input fails
before any lock is taken) and returns a :data:`~stagewise.rollout.store.Change`
that a store runs under its lock against the current config. The store then seals
the returned audit records into the hash chain and commits both together.

Examples
--------
>>> from datetime import datetime, UTC
>>> from stagewise.rollout.config import RolloutConfig
>>> now = datetime(2025, 12, 3, 9, 30, tzinfo=UTC)
>>> config, records = add_feature_change("f", "10%", salt="s", now=now, actor="ops")(RolloutConfig())
>>> config.features["f"].enabled_at, config.updated_at, records[0]["action"]
('2025-12-03', '2025-12-03 09:30:00', 'add_feature')
>>> config, records = set_stage_change("f", "50%", now=now, actor="ops", reason="healthy week")(config)
>>> records[0]["old_stage"], records[0]["new_stage"], config.features["f"].enabled_at
('10%', '50%', '2025-12-03')
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from stagewise._exceptions import ConfigError, NotFoundError
from stagewise.rollout.config import (
    HASH_LEGACY,
    HASH_MODES,
    HASH_SALTED,
    RETIRED_KEY,
    FeatureRollout,
    RolloutConfig,
    check_feature_name,
)
from stagewise.rollout.stages import DISABLED, parse_stage
from stagewise.rollout.store import Change

if TYPE_CHECKING:
    from stagewise.rollout.experiments.variants import VariantSplit

__all__ = [
    "ALL_FEATURES",
    "LIBRARY_ACTOR",
    "SEED_FEATURES",
    "add_feature_change",
    "audit_record",
    "complete_change",
    "default_actor",
    "kill_change",
    "note_change",
    "promote_variant_change",
    "retire_variants_change",
    "seed_defaults_change",
    "set_stage_change",
    "set_variants_change",
]

ALL_FEATURES = "*"
"""Feature name meaning "every feature" for :func:`kill_change` (never a valid feature name)."""

Records = list[dict[str, Any]]

SEED_FEATURES: dict[str, str] = {
    "dynamic_integration": "100%",
    "entry_prediction_model": "100%",
    "probability_calibration": DISABLED,
}
"""The features (and stages) of the seed system's default ``config/rollout_config.json``."""
_SEED_ENABLED_AT = {"dynamic_integration": "2025-11-01", "entry_prediction_model": "2025-11-15"}
LIBRARY_ACTOR = "stagewise"
"""Audit actor of the entries stagewise writes on its own (the default config)."""


def default_actor() -> str:
    """``user@host`` of this process, for audit entries without an explicit actor."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def audit_record(
    now: datetime,
    action: str,
    feature: str,
    old_stage: str | None,
    new_stage: str | None,
    *,
    actor: str,
    reason: str | None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One unsealed audit entry: who, when, why, what, old and new stage (and the numbers behind it)."""
    if reason is not None and type(reason) is not str:
        raise ConfigError(f"The 'reason' must be a string. Got {reason!r}.")
    if type(actor) is not str or not actor:
        raise ConfigError(f"The 'actor' must be a non-empty string. Got {actor!r}.")
    record: dict[str, Any] = {
        "at": now.isoformat(),
        "actor": actor,
        "reason": reason,
        "action": action,
        "feature": feature,
        "old_stage": old_stage,
        "new_stage": new_stage,
    }
    if details is not None:
        record["details"] = dict(details)
    return record


def _stamped(config: RolloutConfig, now: datetime) -> RolloutConfig:
    return replace(config, updated_at=now.strftime("%Y-%m-%d %H:%M:%S"))


def add_feature_change(
    name: str,
    stage: str,
    *,
    now: datetime,
    actor: str,
    salt: str | None = None,
    hash_mode: str = HASH_SALTED,
    reason: str | None = None,
) -> Change:
    """Create a feature; salted by default, the salt being the feature name unless one is given.

    A salt derived from the name (as GrowthBook's default hash seed and Unleash's default
    group id are) makes the same config bucket identically on every host and every run;
    pass another salt to reshuffle the cohort of a feature that keeps its name.
    """
    check_feature_name(name)
    parsed = parse_stage(stage)
    if hash_mode not in HASH_MODES:
        raise ConfigError(f"The 'hash_mode' must be one of {', '.join(HASH_MODES)}. Got {hash_mode!r}.")
    if hash_mode == HASH_SALTED:
        salt = salt if salt is not None else name
        if type(salt) is not str or not salt:
            raise ConfigError(f"The 'salt' must be a non-empty string. Got {salt!r}.")
    feature = FeatureRollout(
        name, parsed, None if parsed.is_disabled else now.date().isoformat(), hash_mode, salt
    )
    try:
        feature.threshold  # noqa: B018 - a legacy feature cannot hold 12.5 %
    except ConfigError:
        raise ConfigError(
            f"hash_mode {hash_mode!r} has 100 buckets: the stage must be 'disabled' or a whole percentage. "
            f"Got {stage!r}."
        ) from None
    record = audit_record(now, "add_feature", name, None, parsed.name, actor=actor, reason=reason)
    record["hash_mode"], record["salt"] = hash_mode, salt

    def change(config: RolloutConfig) -> tuple[RolloutConfig, Records]:
        if name in config.features:
            raise ConfigError(f"The feature {name!r} already exists; change it with update_rollout_stage.")
        return _stamped(config.with_feature(feature), now), [record]

    return change


def seed_defaults_change(*, now: datetime) -> Change:
    """Add the seed's default features (:data:`SEED_FEATURES`) to a config that has none of them.

    They keep the seed's legacy MD5 bucketing and ``enabled_at`` dates, so a race enabled by
    the seed's default config is enabled here. Each is audited as an ``add_feature`` by
    :data:`LIBRARY_ACTOR`. Features already present are left alone.
    """
    reason = "default config created by the library (the seed system's three features)"

    def change(config: RolloutConfig) -> tuple[RolloutConfig, Records]:
        records: Records = []
        for name, stage in SEED_FEATURES.items():
            if name in config.features:
                continue
            feature = FeatureRollout(name, parse_stage(stage), _SEED_ENABLED_AT.get(name), HASH_LEGACY, None)
            config = config.with_feature(feature)
            record = audit_record(now, "add_feature", name, None, stage, actor=LIBRARY_ACTOR, reason=reason)
            record["hash_mode"], record["salt"] = HASH_LEGACY, None
            records.append(record)
        return (_stamped(config, now), records) if records else (config, [])

    return change


def _unknown_for_stage(config: RolloutConfig, name: str, stage: str) -> NotFoundError:
    known = ", ".join(sorted(config.features)) or "none yet"
    return NotFoundError(
        f"Unknown rollout feature {name!r}: update_rollout_stage only changes existing features. "
        f"Create it first with add_feature({name!r}, {stage!r}) "
        f"(CLI: `stagewise rollout add {name} --stage {stage}`). Known features: {known}."
    )


def _check_effective_from(details: Mapping[str, Any] | None) -> None:
    """``details["effective_from"]`` dates the stage's first whole day for the controller: a real date."""
    effective = None if details is None else details.get("effective_from")
    if effective is None:
        return
    try:
        date.fromisoformat(effective)
    except (TypeError, ValueError):
        raise ConfigError(
            f"details['effective_from'] must be a date 'YYYY-MM-DD' (the stage's first whole day). "
            f"Got {effective!r}."
        ) from None


def set_stage_change(
    name: str,
    stage: str,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Change:
    """Move a feature to ``stage``; clears a kill or completion mark. The current stage again is a no-op.

    ``enabled_at`` becomes today when the feature goes from disabled to enabled, stays
    while it moves between percentages, and becomes null when it is disabled.
    """
    parsed = parse_stage(stage)
    audit_record(now, "set_stage", name, None, None, actor=actor, reason=reason)  # validates early
    _check_effective_from(details)

    def change(config: RolloutConfig) -> tuple[RolloutConfig, Records]:
        if name not in config.features:
            raise _unknown_for_stage(config, name, stage)
        old = config.features[name]
        if old.stage == parsed and old.killed is None and old.completed is None:
            return config, []
        enabled_at = None if parsed.is_disabled else (old.enabled_at or now.date().isoformat())
        new = replace(old, stage=parsed, enabled_at=enabled_at, killed=None, completed=None)
        try:
            new.threshold  # noqa: B018
        except ConfigError:
            raise ConfigError(
                f"The feature {name!r} uses the seed's legacy MD5 bucketing (100 buckets), "
                f"so its stage must be 'disabled' or a whole percentage. Got {stage!r}."
            ) from None
        record = audit_record(
            now, "set_stage", name, old.stage.name, parsed.name, actor=actor, reason=reason, details=details
        )
        return _stamped(config.with_feature(new), now), [record]

    return change


def kill_change(name: str, *, now: datetime, actor: str, reason: str) -> Change:
    """Disable one feature, or every feature with :data:`ALL_FEATURES`, marking them killed."""
    if type(reason) is not str or not reason.strip():
        raise ConfigError(f"The kill switch needs a non-empty 'reason'. Got {reason!r}.")
    disabled = parse_stage(DISABLED)

    def change(config: RolloutConfig) -> tuple[RolloutConfig, Records]:
        names = list(config.features) if name == ALL_FEATURES else [config.feature(name).name]
        records: Records = []
        new_config = config
        for feature_name in names:
            old = config.features[feature_name]
            mark = {"at": now.isoformat(), "reason": reason, "actor": actor, "previous_stage": old.stage.name}
            new_config = new_config.with_feature(replace(old, stage=disabled, enabled_at=None, killed=mark))
            records.append(
                audit_record(now, "kill", feature_name, old.stage.name, DISABLED, actor=actor, reason=reason)
            )
        return _stamped(new_config, now), records

    return change


def complete_change(name: str, *, version: str, now: datetime, actor: str, reason: str) -> Change:
    """Finish a rollout whose challenger was promoted: disable the feature and mark it completed.

    After a promotion the champion *is* the former challenger, so the feature must route every
    race to the champion; a feature left at 100 % would wait for a ``challenger`` that no longer
    exists. The mark (``at``, ``actor``, ``reason``, ``version``, ``previous_stage``) says why it
    is disabled; a later stage change (a new challenger under the same name) clears it.
    """
    if type(reason) is not str or not reason.strip():
        raise ConfigError(f"Completing a rollout needs a non-empty 'reason'. Got {reason!r}.")
    if type(version) is not str or not version:
        raise ConfigError(f"The promoted 'version' must be a non-empty string. Got {version!r}.")
    disabled = parse_stage(DISABLED)

    def change(config: RolloutConfig) -> tuple[RolloutConfig, Records]:
        old = config.feature(name)
        mark = {
            "at": now.isoformat(), "actor": actor, "reason": reason, "version": version,
            "previous_stage": old.stage.name,
        }  # fmt: skip
        new = replace(old, stage=disabled, enabled_at=None, killed=None, completed=mark)
        record = audit_record(
            now, "complete", name, old.stage.name, DISABLED, actor=actor, reason=reason,
            details={"version": version},
        )  # fmt: skip
        return _stamped(config.with_feature(new), now), [record]

    return change


def set_variants_change(
    name: str,
    weights: Mapping[str, float] | None,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> Change:
    """Store (or, with None, remove) the A/B/n split of the feature's enabled races.

    The weights are validated by :class:`~stagewise.rollout.experiments.VariantSplit`
    (names unique and not ``control``, weights in [0, 1] summing to 1) and kept under the
    feature's ``"variants"`` key, where the OpenFeature provider, :meth:`GradualRollout.variant`
    and the controller read them.
    """
    from stagewise.rollout.experiments.variants import VariantSplit

    clean: dict[str, float] | None = None
    if weights is not None:
        split = VariantSplit(weights)
        clean = dict(zip(split.slots, split.weights, strict=True))

    def change(config: RolloutConfig) -> tuple[RolloutConfig, Records]:
        old = config.feature(name)
        if clean is not None:
            VariantSplit(clean, buckets=old.buckets)
        # a new split starts afresh: nothing of it is rolled back yet
        extra = {k: v for k, v in old.extra.items() if k not in ("variants", RETIRED_KEY)}
        if clean is not None:
            extra["variants"] = clean
        if extra == old.extra:
            return config, []
        record = audit_record(
            now, "set_variants", name, old.stage.name, old.stage.name, actor=actor, reason=reason,
            details={"old_variants": old.extra.get("variants"), "new_variants": clean},
        )  # fmt: skip
        return _stamped(config.with_feature(replace(old, extra=extra)), now), [record]

    return change


def _active_split(old: FeatureRollout) -> VariantSplit:
    from stagewise.rollout.experiments.variants import VariantSplit

    weights = old.extra.get("variants")
    if weights is None:
        raise ConfigError(
            f"The feature {old.name!r} has no A/B/n split ('variants'); accepted: a feature split by "
            "set_variants. Roll back a feature without one with update_rollout_stage(..., 'disabled')."
        )
    buckets = old.buckets
    return VariantSplit(weights, buckets=buckets, retired=old.extra.get(RETIRED_KEY, ()))


def retire_variants_change(
    name: str,
    variants: Sequence[str],
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Change:
    """Roll ``variants`` back out of the feature's A/B/n split; the stage does not move.

    Their buckets return to control (the champion answers those races) and every other bucket
    keeps its variant (:class:`~stagewise.rollout.experiments.VariantSplit`, ``retired``): no unit
    of a surviving variant changes group. The names are kept under ``"retired_variants"``. Retiring
    the last active variant is refused: disable the feature instead (a split with no variant would
    be a disabled feature that still looks enabled).
    """
    if isinstance(variants, str) or not variants or not all(isinstance(v, str) and v for v in variants):
        raise ConfigError(f"'variants' must be a non-empty list of variant names. Got {variants!r}.")
    audit_record(now, "retire_variants", name, None, None, actor=actor, reason=reason)  # validates early
    _check_effective_from(details)

    def change(config: RolloutConfig) -> tuple[RolloutConfig, Records]:
        old = config.feature(name)
        split = _active_split(old)
        unknown = [v for v in variants if v not in split.slots]
        if unknown:
            raise ConfigError(
                f"'variants' names {unknown[0]!r}, which is not in the split of {name!r}; "
                f"accepted: {list(split.names)}."
            )
        retired = [v for v in split.slots if v in split.retired or v in variants]
        if len(retired) == len(split.slots):
            raise ConfigError(
                f"Retiring {list(variants)} would leave the split of {name!r} with no active variant "
                f"(variants {list(split.slots)}); accepted: at most {len(split.names) - 1} of "
                f"{list(split.names)}. Disable the feature instead."
            )
        if retired == list(split.retired):
            return config, []
        extra = {**old.extra, RETIRED_KEY: retired}
        record = audit_record(
            now, "retire_variants", name, old.stage.name, old.stage.name, actor=actor, reason=reason,
            details={**(details or {}), "retired": [v for v in retired if v not in split.retired],
                     "retired_variants": retired, "variants": dict(old.extra["variants"])},
        )  # fmt: skip
        return _stamped(config.with_feature(replace(old, extra=extra)), now), [record]

    return change


def promote_variant_change(
    name: str,
    variant: str,
    stage: str,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Change:
    """Promote one A/B/n variant: it takes every enabled bucket and the feature moves to ``stage``.

    One audited step: the split becomes ``{variant: 1.0}`` (the other variants end; their units
    join the promoted variant, whose own units keep it) and the stage moves, as
    :func:`set_stage_change` would move it (``details["effective_from"]`` included).
    """
    parsed = parse_stage(stage)
    if parsed.is_disabled:
        raise ConfigError(f"A variant is promoted to an enabled stage, not {stage!r}.")
    audit_record(now, "set_stage", name, None, None, actor=actor, reason=reason)  # validates early
    _check_effective_from(details)

    def change(config: RolloutConfig) -> tuple[RolloutConfig, Records]:
        old = config.feature(name)
        split = _active_split(old)
        if variant not in split.names:
            raise ConfigError(
                f"The promoted variant {variant!r} is not an active variant of {name!r}; "
                f"accepted: {list(split.names)}."
            )
        extra = {k: v for k, v in old.extra.items() if k != RETIRED_KEY}
        extra["variants"] = {variant: 1.0}
        new = replace(old, stage=parsed, extra=extra, killed=None, completed=None)
        new.threshold  # noqa: B018  (a legacy feature refuses a fractional stage here)
        record = audit_record(
            now, "set_stage", name, old.stage.name, parsed.name, actor=actor, reason=reason,
            details={**(details or {}), "promoted_variant": variant,
                     "old_variants": dict(old.extra["variants"]), "new_variants": {variant: 1.0}},
        )  # fmt: skip
        return _stamped(config.with_feature(new), now), [record]

    return change


def note_change(
    name: str,
    action: str,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Change:
    """An audit entry that changes nothing (e.g. the controller's HOLD with its numbers)."""
    if type(action) is not str or not action:
        raise ConfigError(f"The audit 'action' must be a non-empty string. Got {action!r}.")

    def change(config: RolloutConfig) -> tuple[RolloutConfig, Records]:
        stage = config.feature(name).stage.name
        return config, [
            audit_record(now, action, name, stage, stage, actor=actor, reason=reason, details=details)
        ]

    return change
