"""The writing half of :class:`~stagewise.rollout.GradualRollout`: every change is one audited store update.

Adding a feature, moving its stage, the kill switch, completing a promotion, an A/B/n split and a
bare audit note all go through :meth:`AuditedWrites._write`: the store applies the change and appends
its audit record in one step, a hand-edited config is refused unless accepted with a reason, and
the new config is installed for reads at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from stagewise._exceptions import ConfigError
from stagewise.rollout.changes import (
    ALL_FEATURES,
    add_feature_change,
    audit_record,
    complete_change,
    default_actor,
    kill_change,
    note_change,
    promote_variant_change,
    retire_variants_change,
    set_stage_change,
    set_variants_change,
)
from stagewise.rollout.config import HASH_SALTED, RolloutConfig
from stagewise.rollout.integrity import ManualEdit, detect_manual_edit
from stagewise.rollout.stages import DISABLED
from stagewise.rollout.store import ACCEPT_MANUAL_EDIT, Change, RolloutStore, guard_manual_edit

__all__ = ["AuditedWrites"]


class AuditedWrites:
    """What :class:`~stagewise.rollout.GradualRollout` can change; it provides the store, clock and config."""

    store: RolloutStore
    now: Callable[[], datetime]
    actor: str | None
    refresh_interval: float
    _default_actor: str | None
    _next_check: float

    def _install(self, config: RolloutConfig, token: object) -> None:
        raise NotImplementedError

    def _current(self) -> RolloutConfig:
        raise NotImplementedError

    def add_feature(
        self,
        feature_name: str,
        stage: str = DISABLED,
        *,
        salt: str | None = None,
        hash_mode: str = HASH_SALTED,
        reason: str | None = None,
        actor: str | None = None,
        accept_manual_edit: bool = False,
    ) -> dict[str, Any]:
        """Create a feature with salted bucketing, salted with the feature name unless ``salt`` is given.

        The default salt is deterministic, so the same config buckets a race identically on
        every host and in every run; give ``salt`` to reshuffle a feature's cohort.
        Configs stored with another salt (earlier versions drew a random one) keep it.
        """
        change = add_feature_change(
            feature_name, stage, now=self.now(), actor=self._actor(actor), salt=salt, hash_mode=hash_mode,
            reason=reason,
        )  # fmt: skip
        written = self._write(change, accept_manual_edit, reason=reason, actor=actor)
        return written.features[feature_name].info()

    def update_rollout_stage(
        self,
        feature_name: str,
        stage: str,
        *,
        reason: str | None = None,
        actor: str | None = None,
        details: Mapping[str, Any] | None = None,
        accept_manual_edit: bool = False,
    ) -> dict[str, Any]:
        """Move a feature to ``stage`` (``disabled``, ``10%``, ``50%``, ``100%``, ``12.5%``...).

        ``enabled_at`` becomes today when the feature goes from disabled to enabled, and
        null when it is disabled. Setting the current stage again changes nothing.
        ``details`` (e.g. the numbers behind a controller decision) go to the audit entry.
        ``accept_manual_edit``: see :meth:`manual_edit`. Returns the feature's new state.
        """
        change = set_stage_change(
            feature_name, stage, now=self.now(), actor=self._actor(actor), reason=reason, details=details
        )
        written = self._write(change, accept_manual_edit, reason=reason, actor=actor)
        return written.features[feature_name].info()

    def kill(self, feature_name: str, *, reason: str, actor: str | None = None) -> list[str]:
        """Kill switch: disable ``feature_name`` (or every feature with ``"*"``) in one audited write.

        Every process using the same store stops enabling it within ``refresh_interval``.
        The feature stays marked killed (see :meth:`is_killed`) until a manual stage change.
        The kill never needs ``accept_manual_edit``: on a hand-edited config it records the edit
        it found, and an unreadable last line of a file audit log is moved aside (and recorded)
        instead of blocking it. Returns the names of the features that were disabled.
        """
        inner = kill_change(feature_name, now=self.now(), actor=self._actor(actor), reason=reason)
        killed: list[str] = []

        def change(config: RolloutConfig) -> tuple[RolloutConfig, list[dict[str, Any]]]:
            new, records = inner(config)
            killed[:] = [record["feature"] for record in records]
            return new, records

        self._write(change, True, reason=reason, actor=actor, kill=True)
        return killed

    def complete(
        self, feature_name: str, *, version: str, reason: str, actor: str | None = None
    ) -> dict[str, Any]:
        """Mark the rollout finished by the promotion of ``version``: the feature goes to ``disabled``
        with a ``completed`` record (see :attr:`FeatureRollout.is_completed`). Audited.

        Use :func:`stagewise.rollout.promotion.finish_promotion`, which also promotes the version
        in the registry and removes its ``challenger`` alias. Returns the feature's new state.
        """
        change = complete_change(feature_name, version=version, now=self.now(), actor=self._actor(actor),
                                 reason=reason)  # fmt: skip
        return self._write(change, False, reason=reason, actor=actor).features[feature_name].info()

    def set_variants(
        self,
        feature_name: str,
        weights: Mapping[str, float] | None,
        *,
        reason: str | None = None,
        actor: str | None = None,
        accept_manual_edit: bool = False,
    ) -> dict[str, Any]:
        """Split the feature's enabled races between A/B/n variants (``None`` removes the split).

        Each bucket keeps its variant as the stage grows (see
        :class:`~stagewise.rollout.experiments.VariantSplit`); races outside the stage are
        ``control``. Audited. Returns the feature's new state.
        """
        change = set_variants_change(
            feature_name, weights, now=self.now(), actor=self._actor(actor), reason=reason
        )
        written = self._write(change, accept_manual_edit, reason=reason, actor=actor)
        return written.features[feature_name].info()

    def retire_variants(
        self,
        feature_name: str,
        variants: list[str],
        *,
        reason: str | None = None,
        actor: str | None = None,
        details: Mapping[str, Any] | None = None,
        accept_manual_edit: bool = False,
    ) -> dict[str, Any]:
        """Roll ``variants`` back out of the feature's A/B/n split (their races go to control). Audited.

        Every other variant keeps its buckets; the stage does not move. Retiring the last active
        variant is refused (disable the feature instead). Returns the feature's new state.
        """
        change = retire_variants_change(
            feature_name, variants, now=self.now(), actor=self._actor(actor), reason=reason, details=details
        )
        written = self._write(change, accept_manual_edit, reason=reason, actor=actor)
        return written.features[feature_name].info()

    def promote_variant(
        self,
        feature_name: str,
        variant: str,
        stage: str,
        *,
        reason: str | None = None,
        actor: str | None = None,
        details: Mapping[str, Any] | None = None,
        accept_manual_edit: bool = False,
    ) -> dict[str, Any]:
        """Promote one A/B/n variant: the split becomes ``{variant: 1.0}`` and the feature moves to ``stage``.

        One audited write (see :func:`~stagewise.rollout.changes.promote_variant_change`).
        Returns the feature's new state.
        """
        change = promote_variant_change(
            feature_name, variant, stage, now=self.now(), actor=self._actor(actor), reason=reason,
            details=details,
        )  # fmt: skip
        written = self._write(change, accept_manual_edit, reason=reason, actor=actor)
        return written.features[feature_name].info()

    def record_audit(
        self,
        feature_name: str,
        action: str,
        *,
        reason: str | None = None,
        actor: str | None = None,
        details: Mapping[str, Any] | None = None,
        accept_manual_edit: bool = False,
    ) -> dict[str, Any]:
        """Append an audit entry without changing the config (e.g. a controller's HOLD decision)."""
        change = note_change(
            feature_name, action, now=self.now(), actor=self._actor(actor), reason=reason, details=details
        )
        return dict(self._write(change, accept_manual_edit, reason=reason, actor=actor).audit_tail[-1])

    def manual_edit(self) -> ManualEdit | None:
        """How the stored config differs from its audit chain, or None when it matches.

        The config was edited outside stagewise (by hand, or by a tool writing the file or
        the tables) since the last audited write. Reads keep serving it; every write except
        :meth:`kill` refuses it with :class:`~stagewise.ConfigError` unless called with
        ``accept_manual_edit=True`` and a non-blank ``reason``, which records an
        ``accept_manual_edit`` audit entry holding the accepted features.
        """
        return detect_manual_edit(self._current())

    def _write(
        self, change: Change, accept_manual_edit: bool, *, reason: str | None, actor: str | None,
        kill: bool = False,
    ) -> RolloutConfig:  # fmt: skip
        if type(accept_manual_edit) is not bool:
            raise ConfigError(f"'accept_manual_edit' must be True or False. Got {accept_manual_edit!r}.")
        if accept_manual_edit and (type(reason) is not str or not reason.strip()):
            raise ConfigError(
                "Accepting a hand-edited config needs a non-empty 'reason' (CLI: --reason); "
                f"it is recorded in the audit log. Got {reason!r}."
            )
        acknowledgement = audit_record(
            self.now(), ACCEPT_MANUAL_EDIT, ALL_FEATURES, None, None, actor=self._actor(actor), reason=reason
        )
        guarded = guard_manual_edit(
            change, self.store.location, acknowledgement if accept_manual_edit else None, kill=kill
        )
        repair = acknowledgement if accept_manual_edit else None
        config = self.store.update(guarded, repair=repair)
        self._install(config, self.store.version_token())
        self._next_check = time.monotonic() + self.refresh_interval
        return config

    def _actor(self, actor: str | None) -> str:
        if actor is not None:
            return actor
        if self.actor is not None:
            return self.actor
        if self._default_actor is None:
            self._default_actor = default_actor()
        return self._default_actor
