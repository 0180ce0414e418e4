"""``GradualRollout``: the seed's rollout API over a file or SQL store, with audit and kill switch."""

from __future__ import annotations

import getpass
import logging
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from stagewise._exceptions import ConfigError, StagewiseError
from stagewise.rollout.audit import AuditReport
from stagewise.rollout.bucketing import BUCKETS, buckets_of, digest_cutoff, legacy_buckets_of, salted_hasher
from stagewise.rollout.config import (
    HASH_LEGACY,
    HASH_MODES,
    HASH_SALTED,
    FeatureRollout,
    RolloutConfig,
    check_feature_name,
)
from stagewise.rollout.health import HealthPolicy, evaluate_health, load_policy
from stagewise.rollout.plan import build_plan
from stagewise.rollout.stages import DISABLED, next_stage, parse_stage
from stagewise.rollout.store import RolloutStore

__all__ = ["ALL_FEATURES", "GradualRollout"]

ALL_FEATURES = "*"
"""Pass to :meth:`GradualRollout.kill` to disable every feature."""

_SQL_PREFIXES = ("sqlite:", "postgresql:", "postgresql+", "postgres:", "mysql")


_monotonic = time.monotonic
_LOG = logging.getLogger("stagewise.rollout")


def _local_now() -> datetime:
    return datetime.now().astimezone()


class GradualRollout:
    """Deterministic gradual rollout of features (10% → 50% → 100%), as in the seed system.

    Parameters
    ----------
    config_path : str or Path
        The JSON config (the seed's format loads unchanged), or a SQLAlchemy URL.
    db_url : str, optional
        Use the SQL store in this database (e.g. the monitor's) instead of the file.
    store : RolloutStore, optional
        Any store object (e.g. :class:`~stagewise.rollout.store.MemoryRolloutStore`).
    health_policy : HealthPolicy, dict, path or domain name, optional
        Thresholds for :meth:`check_rollout_health` (default: the seed's races table).
    now : callable, optional
        Clock returning an aware ``datetime`` (default: local time).
    refresh_interval : float
        Seconds between checks for changes made by other processes (0: every call).
        A kill switch reaches every process within this interval.
    actor : str, optional
        Who is recorded in the audit log (default ``user@host``).
    stage_days : int
        Days per stage in :meth:`rollout_plan` (the seed: one week).

    Examples
    --------
    >>> from stagewise.rollout.store import MemoryRolloutStore
    >>> rollout = GradualRollout(store=MemoryRolloutStore(), actor="docs")
    >>> _ = rollout.add_feature("probability_calibration", salt="probability_calibration:demo")
    >>> _ = rollout.update_rollout_stage("probability_calibration", "10%", reason="start canary")
    >>> enabled = [rollout.should_enable_feature("probability_calibration", i) for i in range(10_000)]
    >>> 900 < sum(enabled) < 1100
    True
    >>> rollout.verify_audit().ok
    True
    """

    def __init__(
        self,
        config_path: str | Path = "config/rollout_config.json",
        *,
        db_url: str | None = None,
        store: RolloutStore | None = None,
        health_policy: HealthPolicy | Mapping[str, Any] | str | Path | None = None,
        now: Callable[[], datetime] | None = None,
        refresh_interval: float = 1.0,
        actor: str | None = None,
        stage_days: int = 7,
    ) -> None:
        if store is None:
            url = db_url or (str(config_path) if str(config_path).startswith(_SQL_PREFIXES) else None)
            if url is not None:
                from stagewise.rollout.sql_store import SqlRolloutStore

                store = SqlRolloutStore(url)
            else:
                from stagewise.rollout.file_store import FileRolloutStore

                store = FileRolloutStore(config_path)
        if refresh_interval < 0:
            raise ConfigError(f"The 'refresh_interval' must be >= 0 seconds. Got {refresh_interval!r}.")
        if type(stage_days) is not int or stage_days < 1:
            raise ConfigError(f"The 'stage_days' must be an int >= 1. Got {stage_days!r}.")
        self.store = store
        self.health_policy = load_policy(health_policy)
        self.now = now or _local_now
        self.refresh_interval = float(refresh_interval)
        self.actor = actor
        self.stage_days = stage_days
        self._config = RolloutConfig()
        self._checkers: dict[str, Callable[[str | int], bool]] = {}
        self._fast: dict[str, tuple[Callable[[], Any], bytes]] = {}
        self._token: object = object()
        self._next_check = 0.0
        self.refresh_error: StagewiseError | None = None
        self.refresh(force=True)

    def close(self) -> None:
        """Release the store's resources (database connections); file stores hold none."""
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> GradualRollout:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------
    def refresh(self, *, force: bool = False) -> None:
        """Reload the config if another process changed it (``force``: reload unconditionally).

        If the stored config became unreadable (e.g. a broken hand edit), the last good
        config stays in use for reads, the error is logged and kept in
        :attr:`refresh_error`, and the next check tries again; writes refuse the broken
        config loudly. ``force=True`` raises instead.
        """
        self._next_check = time.monotonic() + self.refresh_interval
        try:
            token = self.store.version_token()
            if force or token != self._token:
                self._install(self.store.read(), token)
        except StagewiseError as exc:
            if force:
                raise
            if self.refresh_error is None or str(exc) != str(self.refresh_error):
                _LOG.error(
                    "rollout config %s unreadable, serving the last good one: %s", self.store.location, exc
                )
            self.refresh_error = exc
            return
        self.refresh_error = None

    def _install(self, config: RolloutConfig, token: object) -> None:
        self._checkers = {name: f.checker() for name, f in config.features.items()}
        # The hot path for salted features at a partial stage: a pre-salted hasher and the digest cutoff.
        self._fast = {
            name: (salted_hasher(f.salt or "").copy, digest_cutoff(f.threshold))
            for name, f in config.features.items()
            if f.hash_mode == HASH_SALTED and 0 < f.threshold < BUCKETS
        }
        self._config = config
        self._token = token

    def _current(self) -> RolloutConfig:
        if time.monotonic() >= self._next_check:
            self.refresh()
        return self._config

    def should_enable_feature(self, feature_name: str, race_id: str | int) -> bool:
        """Whether ``feature_name`` is on for this race (deterministic, by the feature's bucketing).

        ``race_id`` must be a ``str`` or an ``int`` (hashed as its decimal text).
        An unknown feature raises :class:`~stagewise.NotFoundError` listing the known ones.
        """
        if _monotonic() >= self._next_check:
            self.refresh()
        fast = self._fast.get(feature_name)
        if fast is not None:
            kind = type(race_id)
            # Inlined salted_checker for str and int ids (one Python call less); the rest goes the long way.
            if kind is str or kind is int:
                try:
                    data = (race_id if kind is str else str(race_id)).encode()  # type: ignore[union-attr]
                except UnicodeEncodeError:
                    pass
                else:
                    hasher = fast[0]()
                    hasher.update(data)
                    return hasher.digest() < fast[1]  # type: ignore[no-any-return]
        check = self._checkers.get(feature_name)
        if check is None:
            self._config.feature(feature_name)  # raises NotFoundError with the known names
            raise AssertionError("unreachable")  # pragma: no cover
        return check(race_id)

    def enabled_many(
        self, feature_name: str, race_ids: Iterable[str | int] | npt.ArrayLike
    ) -> npt.NDArray[np.bool_]:
        """Vectorised :meth:`should_enable_feature` for many races at once."""
        feature = self._current().feature(feature_name)
        if feature.hash_mode == HASH_LEGACY:
            return legacy_buckets_of(race_ids) < feature.threshold
        return buckets_of(feature.salt or "", race_ids) < feature.threshold

    def bucket(self, feature_name: str, race_id: str | int) -> int:
        """The race's bucket for this feature (0-99 in legacy mode, 0-9999 otherwise)."""
        return self._current().feature(feature_name).bucket(race_id)

    def feature(self, feature_name: str) -> FeatureRollout:
        """The feature's stored state (stage, hash mode, salt, kill record)."""
        return self._current().feature(feature_name)

    def is_killed(self, feature_name: str) -> bool:
        """True after :meth:`kill` until the next manual stage change."""
        return self.feature(feature_name).killed is not None

    def get_rollout_status(self) -> dict[str, Any]:
        """``{"feature_rollouts": {name: {"stage", "enabled_at", ...}}, "updated_at": ...}``."""
        self.refresh()
        config = self._config
        return {
            "feature_rollouts": {name: f.info() for name, f in config.features.items()},
            "updated_at": config.updated_at,
        }

    # -- writing ---------------------------------------------------------------------------
    def add_feature(
        self,
        feature_name: str,
        stage: str = DISABLED,
        *,
        salt: str | None = None,
        hash_mode: str = HASH_SALTED,
        reason: str | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Create a feature (salted bucketing by default, with a random salt unless given)."""
        check_feature_name(feature_name)
        parsed = parse_stage(stage)
        if hash_mode not in HASH_MODES:
            raise ConfigError(f"The 'hash_mode' must be one of {', '.join(HASH_MODES)}. Got {hash_mode!r}.")
        if hash_mode == HASH_SALTED:
            salt = salt if salt is not None else f"{feature_name}:{secrets.token_hex(8)}"
            if type(salt) is not str or not salt:
                raise ConfigError(f"The 'salt' must be a non-empty string. Got {salt!r}.")
        now = self.now()
        new = FeatureRollout(
            feature_name, parsed, None if parsed.is_disabled else now.date().isoformat(), hash_mode, salt
        )
        new.threshold  # noqa: B018 - refuses 12.5% in legacy mode before anything is stored

        def change(config: RolloutConfig) -> tuple[RolloutConfig, list[dict[str, Any]]]:
            if feature_name in config.features:
                raise ConfigError(
                    f"The feature {feature_name!r} already exists; change it with update_rollout_stage."
                )
            record = self._record(now, "add_feature", feature_name, None, parsed.name, reason, actor)
            record["hash_mode"], record["salt"] = hash_mode, salt
            return self._stamped(config.with_feature(new), now), [record]

        return self._write(change).features[feature_name].info()

    def update_rollout_stage(
        self,
        feature_name: str,
        stage: str,
        *,
        reason: str | None = None,
        actor: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Move a feature to ``stage`` (``disabled``, ``10%``, ``50%``, ``100%``, ``12.5%``...).

        ``enabled_at`` becomes today when the feature goes from disabled to enabled, and
        null when it is disabled. Setting the current stage again changes nothing.
        Returns the feature's new state.
        """
        parsed = parse_stage(stage)
        now = self.now()

        def change(config: RolloutConfig) -> tuple[RolloutConfig, list[dict[str, Any]]]:
            old = config.feature(feature_name)
            if old.stage == parsed and old.killed is None:
                return config, []
            enabled_at = None if parsed.is_disabled else old.enabled_at
            if enabled_at is None and not parsed.is_disabled:
                enabled_at = now.date().isoformat()
            new = replace(old, stage=parsed, enabled_at=enabled_at, killed=None)
            try:
                new.threshold  # noqa: B018
            except ConfigError:
                raise ConfigError(
                    f"The feature {feature_name!r} uses the seed's legacy MD5 bucketing (100 buckets), "
                    f"so its stage must be 'disabled' or a whole percentage. Got {stage!r}."
                ) from None
            record = self._record(now, "set_stage", feature_name, old.stage.name, parsed.name, reason, actor)
            if details is not None:
                record["details"] = dict(details)
            return self._stamped(config.with_feature(new), now), [record]

        return self._write(change).features[feature_name].info()

    def kill(self, feature_name: str, *, reason: str, actor: str | None = None) -> list[str]:
        """Kill switch: disable ``feature_name`` (or every feature with ``"*"``) in one audited write.

        Every process using the same store stops enabling it within ``refresh_interval``.
        The feature stays marked killed (see :meth:`is_killed`) until a manual stage change.
        Returns the names of the features that were disabled.
        """
        if type(reason) is not str or not reason.strip():
            raise ConfigError(f"The kill switch needs a non-empty 'reason'. Got {reason!r}.")
        now = self.now()
        who = self._actor(actor)
        killed: list[str] = []

        def change(config: RolloutConfig) -> tuple[RolloutConfig, list[dict[str, Any]]]:
            names = (
                list(config.features) if feature_name == ALL_FEATURES else [config.feature(feature_name).name]
            )
            records, new_config = [], config
            killed.clear()
            for name in names:
                old = config.features[name]
                mark = {
                    "at": now.isoformat(),
                    "reason": reason,
                    "actor": who,
                    "previous_stage": old.stage.name,
                }
                new_config = new_config.with_feature(
                    replace(old, stage=parse_stage(DISABLED), enabled_at=None, killed=mark)
                )
                records.append(self._record(now, "kill", name, old.stage.name, DISABLED, reason, actor))
                killed.append(name)
            return self._stamped(new_config, now), records

        self._write(change)
        return killed

    def record_audit(
        self,
        feature_name: str,
        action: str,
        *,
        reason: str | None = None,
        actor: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append an audit entry without changing the config (e.g. a controller's HOLD decision)."""
        now = self.now()
        written: list[dict[str, Any]] = []

        def change(config: RolloutConfig) -> tuple[RolloutConfig, list[dict[str, Any]]]:
            stage = config.feature(feature_name).stage.name
            record = self._record(now, action, feature_name, stage, stage, reason, actor)
            if details is not None:
                record["details"] = dict(details)
            written.append(record)
            return config, [record]

        config = self._write(change)
        return dict(config.audit_tail[-1]) if written and config.audit_tail else {}

    def _write(
        self, change: Callable[[RolloutConfig], tuple[RolloutConfig, list[dict[str, Any]]]]
    ) -> RolloutConfig:
        config = self.store.update(change)
        self._install(config, self.store.version_token())
        self._next_check = time.monotonic() + self.refresh_interval
        return config

    def _stamped(self, config: RolloutConfig, now: datetime) -> RolloutConfig:
        return replace(config, updated_at=now.strftime("%Y-%m-%d %H:%M:%S"))

    def _actor(self, actor: str | None) -> str:
        if actor is not None:
            return actor
        if self.actor is not None:
            return self.actor
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return f"{user}@{socket.gethostname()}"

    def _record(
        self,
        now: datetime,
        action: str,
        feature: str,
        old_stage: str | None,
        new_stage: str | None,
        reason: str | None,
        actor: str | None,
    ) -> dict[str, Any]:
        if reason is not None and type(reason) is not str:
            raise ConfigError(f"The 'reason' must be a string. Got {reason!r}.")
        return {
            "at": now.isoformat(),
            "actor": self._actor(actor),
            "reason": reason,
            "action": action,
            "feature": feature,
            "old_stage": old_stage,
            "new_stage": new_stage,
        }

    # -- audit, health, plan ---------------------------------------------------------------
    def audit_log(self) -> list[dict[str, Any]]:
        """Every audit entry, oldest first."""
        return self.store.audit_entries()

    def verify_audit(self) -> AuditReport:
        """Check the hash chain for edits, deletions and reordering, and that the config agrees with it."""
        return self.store.verify_audit()

    def check_rollout_health(
        self, feature_name: str, metrics: Mapping[str, Any], *, lang: Literal["en", "ja"] = "en"
    ) -> dict[str, Any]:
        """Grade the feature's metrics with the seed's table: HEALTHY, WARNING, CRITICAL or INSUFFICIENT_DATA.

        Returns ``feature_name, status, action, issues, warnings, recommendations, metrics, checked_at``.
        """
        feature = self.feature(feature_name)
        upcoming = next_stage(feature.stage)
        return evaluate_health(
            metrics,
            self.health_policy,
            feature_name=feature_name,
            now=self.now(),
            next_stage=upcoming.name if upcoming else None,
            lang=lang,
        )

    def rollout_plan(self, feature_name: str, *, lang: Literal["en", "ja"] = "en") -> dict[str, Any]:
        """The seed's ramp for the feature with target dates, and the rollback criteria.

        Returns ``feature_name, current_stage, stages`` (each ``stage, duration,
        description``, plus ``target_date`` for 10/50/100 %) and ``rollback_criteria``.
        Dates start at the feature's ``enabled_at`` when it is enabled, else today, and
        step by ``stage_days``.
        """
        feature = self.feature(feature_name)
        return build_plan(feature, self.health_policy, self.now().date(), self.stage_days, lang=lang)
