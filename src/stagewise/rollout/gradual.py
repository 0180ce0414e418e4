"""``GradualRollout``: the seed's rollout API over a file or SQL store, with audit and kill switch."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from stagewise._exceptions import ConfigError, NotFoundError, StagewiseError
from stagewise.rollout.audit import AuditReport
from stagewise.rollout.audited_writes import AuditedWrites
from stagewise.rollout.bucketing import buckets_of, legacy_buckets_of
from stagewise.rollout.changes import (
    ALL_FEATURES,
    SEED_FEATURES,
    seed_defaults_change,
)
from stagewise.rollout.config import HASH_LEGACY, RETIRED_KEY, FeatureRollout, RolloutConfig
from stagewise.rollout.decisions import DecisionRecord, read_decisions
from stagewise.rollout.health import HealthPolicy, evaluate_health, load_policy
from stagewise.rollout.plan import build_plan
from stagewise.rollout.stages import next_stage
from stagewise.rollout.store import RolloutStore

__all__ = ["ALL_FEATURES", "CONTROL_VARIANT", "ENABLED_VARIANT", "SEED_FEATURES", "GradualRollout"]

ENABLED_VARIANT = "on"
"""Ledger variant of a race the feature enables when it has no A/B/n split (``GradualRollout.variant``)."""
CONTROL_VARIANT = "control"
"""Ledger variant of a race the feature does not enable."""


DEFAULT_CONFIG_PATH = "config/rollout_config.json"
"""The seed's config file, relative to the working directory."""

_SQL_PREFIXES = ("sqlite:", "postgresql:", "postgresql+", "postgres:", "mysql")


_monotonic = time.monotonic
_LOG = logging.getLogger("stagewise.rollout")
_warned_unknown: set[str] = set()  # feature names already warned about in this process
_warned_lock = threading.Lock()


def _local_now() -> datetime:
    return datetime.now().astimezone()


class GradualRollout(AuditedWrites):
    """Deterministic gradual rollout of features (10% → 50% → 100%), as in the seed system.

    Parameters
    ----------
    config_path : str or Path, optional
        The JSON config (the seed's format loads unchanged), or a SQLAlchemy URL.
        Default: the seed's ``config/rollout_config.json``, created with the seed's
        default features when it does not exist (see ``create_defaults``).
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
    create_defaults : bool, optional
        When the JSON config file does not exist yet, create it (atomically, audited as
        written by ``stagewise``) with the seed system's default features
        (:data:`~stagewise.rollout.changes.SEED_FEATURES`: ``dynamic_integration`` and
        ``entry_prediction_model`` at 100 %, ``probability_calibration`` disabled), as the
        seed's ``GradualRollout()`` did. Default (``None``): only when ``config_path`` is
        not given, so the seed's call gets the seed's config and a config you name starts
        empty (created on its first write). SQL and in-memory stores always start empty.

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
        config_path: str | Path | None = None,
        *,
        db_url: str | None = None,
        store: RolloutStore | None = None,
        health_policy: HealthPolicy | Mapping[str, Any] | str | Path | None = None,
        now: Callable[[], datetime] | None = None,
        refresh_interval: float = 1.0,
        actor: str | None = None,
        stage_days: int = 7,
        create_defaults: bool | None = None,
    ) -> None:
        if create_defaults is None:
            create_defaults = config_path is None and store is None and db_url is None
        if config_path is None:
            config_path = DEFAULT_CONFIG_PATH
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
        self._token: object = object()
        self._next_check = 0.0
        self.refresh_error: StagewiseError | None = None
        self._default_actor: str | None = None
        self._splits: dict[tuple[Any, ...], Any] = {}
        if create_defaults:
            self._create_defaults()
        self.refresh(force=True)

    def _create_defaults(self) -> None:
        from stagewise.rollout.file_store import FileRolloutStore

        store = self.store
        if not isinstance(store, FileRolloutStore) or store.config_path.exists():
            return
        if store.create_if_missing(seed_defaults_change(now=self.now())):
            _LOG.info("created the default rollout config %s (the seed's three features)", store.location)

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
        # one checker per feature (bucketing.salted_checker / legacy_checker): the hot path
        self._checkers = {name: f.checker() for name, f in config.features.items()}
        self._config = config
        self._token = token

    def _current(self) -> RolloutConfig:
        if time.monotonic() >= self._next_check:
            self.refresh()
        return self._config

    def should_enable_feature(self, feature_name: str, race_id: str | int) -> bool:
        """Whether ``feature_name`` is on for this race (deterministic, by the feature's bucketing).

        ``race_id`` must be a ``str`` or an ``int`` (hashed as its decimal text).
        A feature the config does not know is off (``False``), as in the seed and every flag
        SDK; the first call for each unknown name logs a warning (once per process). The
        writing calls (:meth:`update_rollout_stage`, :meth:`kill` ...) still raise
        :class:`~stagewise.NotFoundError` for it.
        """
        if _monotonic() >= self._next_check:
            self.refresh()
        check = self._checkers.get(feature_name)
        if check is None:
            self._warn_unknown(feature_name)
            return False
        return check(race_id)

    def _warn_unknown(self, feature_name: str) -> None:
        with _warned_lock:
            if feature_name in _warned_unknown:
                return
            _warned_unknown.add(feature_name)
        try:
            self._config.feature(feature_name)
        except NotFoundError as exc:
            _LOG.warning(
                "%s should_enable_feature answers False for it (warned once per process); "
                "create it with add_feature or `stagewise rollout add`.",
                str(exc).replace("Unknown rollout feature", "unknown rollout feature", 1),
            )

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

    def variant(self, feature_name: str, race_id: str | int) -> str:
        """The race's group: its variant when the feature has a split, else ``"on"``; ``"control"`` when off.

        A race whose variant was rolled back out of the split (``"retired_variants"``) is ``"control"``.

        Examples
        --------
        >>> from stagewise.rollout.store import MemoryRolloutStore
        >>> rollout = GradualRollout(store=MemoryRolloutStore(), actor="docs")
        >>> _ = rollout.add_feature("calib", "100%", salt="calib")
        >>> _ = rollout.set_variants("calib", {"iso": 0.5, "platt": 0.5})
        >>> sorted({rollout.variant("calib", i) for i in range(100)})
        ['iso', 'platt']
        """
        feature = self._current().feature(feature_name)
        bucket = feature.bucket(race_id)
        if bucket >= feature.threshold:
            return CONTROL_VARIANT
        weights = feature.extra.get("variants")
        if weights is None:
            return ENABLED_VARIANT
        return str(self._split(feature, weights).variant_of_bucket(bucket, feature.threshold))

    def _split(self, feature: FeatureRollout, weights: Mapping[str, float]) -> Any:
        from stagewise.rollout.experiments.variants import VariantSplit

        retired = tuple(feature.extra.get(RETIRED_KEY, ()))
        key = (tuple(weights.items()), feature.hash_mode, retired)
        split = self._splits.get(key)
        if split is None:
            buckets = feature.buckets
            split = self._splits[key] = VariantSplit(weights, buckets=buckets, retired=retired)
        return split

    # -- audit, health, plan ---------------------------------------------------------------
    def audit_log(self) -> list[dict[str, Any]]:
        """Every audit entry, oldest first."""
        return self.store.audit_entries()

    def decisions(self, feature_name: str | None, limit: int | None = None) -> list[DecisionRecord]:
        """The controller's applied decisions on the feature (None: on every feature) with their metric
        rows, newest first."""
        return read_decisions(self.store, feature_name, limit)

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
