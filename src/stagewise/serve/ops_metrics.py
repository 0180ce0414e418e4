"""Metrics read at scrape time: the rollout's state and decisions, and the monitor's daily figures.

Both describe shared state (the rollout store, the ledger), not this process, so they are
computed when ``/metrics`` is scraped, never summed over workers, and cached for ``ttl_s``
seconds so that a scrape every few seconds costs at most one read per interval:

* :class:`RolloutCollector` — per rollout feature: ``stagewise_rollout_stage_percent``,
  ``stagewise_rollout_killed``, and from the hash-chained audit log (durable, so these counters
  survive restarts and agree on every host) ``stagewise_rollout_kills_total``,
  ``stagewise_rollout_rollbacks_total`` and ``stagewise_rollout_decisions_total{action}``;
  ``stagewise_rollout_days_at_stage`` (whole days since the current stage was set) and, from the
  latest decision record (:mod:`stagewise.rollout.decisions`), one
  ``stagewise_rollout_decision_p_value`` / ``stagewise_rollout_decision_estimate`` per judged metric
  ``{feature, metric, kind}`` and ``stagewise_rollout_last_decision_timestamp_seconds``.
* :class:`MonitorCollector` — the monitor's exposition (:mod:`stagewise.monitor.prometheus`):
  hit rates, score accuracy, the calibration gauge and ``stagewise_monitor_alerts_firing``,
  plus ``stagewise_monitor_metrics_up`` (0 while the ledger cannot be read; the last good
  values are kept meanwhile).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from stagewise.monitor import PerformanceMonitor
    from stagewise.rollout import GradualRollout

__all__ = ["CONTROLLER_ACTIONS", "MonitorCollector", "RolloutCollector", "days_at_stage", "rollout_counts"]

_LOG = logging.getLogger("stagewise.serve")
CONTROLLER_ACTIONS = ("promote", "hold", "rollback", "none")
_CONTROLLER = "stagewise-controller"


def rollout_counts(audit: Sequence[Mapping[str, object]]) -> dict[str, Counter[str]]:
    """Per feature: ``kill`` entries, controller rollbacks and controller decisions by action.

    Examples
    --------
    >>> audit = [{"feature": "f", "action": "kill"},
    ...          {"feature": "f", "action": "set_stage", "actor": "stagewise-controller",
    ...           "old_stage": "10%", "new_stage": "disabled",
    ...           "details": {"controller": {"action": "rollback"}}}]
    >>> counts = rollout_counts(audit)["f"]
    >>> counts["kills"], counts["rollbacks"], counts["decision:rollback"]
    (1, 1, 1)
    """
    out: dict[str, Counter[str]] = {}
    for entry in audit:
        feature = entry.get("feature")
        if not isinstance(feature, str):
            continue
        counts = out.setdefault(feature, Counter())
        if entry.get("action") == "kill":
            counts["kills"] += 1
        details = entry.get("details")
        record = details.get("controller") if isinstance(details, dict) else None
        if entry.get("actor") == _CONTROLLER and isinstance(record, dict):
            action = str(record.get("action"))
            counts[f"decision:{action}"] += 1
            if action == "rollback" and entry.get("old_stage") != entry.get("new_stage"):
                counts["rollbacks"] += 1
    return out


def days_at_stage(
    audit: Sequence[Mapping[str, object]], feature: str, stage: str, enabled_at: str | None, today: date
) -> int | None:
    """Whole days ``feature`` has been at ``stage``: since the first race day served wholly at it (the
    controller's ``effective_from``, else the day of the audit log's last move), else ``enabled_at``.

    None when neither says (a disabled feature the log never moved); 0 before the stage's first day.

    Examples
    --------
    >>> audit = [{"feature": "f", "old_stage": "10%", "new_stage": "50%", "at": "2026-11-03T06:00:00+00:00"}]
    >>> days_at_stage(audit, "f", "50%", "2026-11-01", date(2026, 11, 10))
    7
    """
    from stagewise.rollout.controller_runner import stage_first_day

    since = stage_first_day(audit, feature, stage)
    if since is None and enabled_at and stage != "disabled":
        since = date.fromisoformat(enabled_at[:10])
    return None if since is None else max(0, (today - since).days)


class _Cached:
    """The last value of ``compute`` for ``ttl_s`` seconds (one computation at a time)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._expires = 0.0
        self._value: list[Metric] = []

    def get(self, compute: Callable[[], list[Metric]]) -> list[Metric]:
        with self._lock:
            if time.monotonic() >= self._expires:
                self._value = compute()
                self._expires = time.monotonic() + self.ttl_s
            return self._value


class RolloutCollector:
    """The rollout's stages, kill switches and controller decisions, per feature."""

    def __init__(
        self, rollout: GradualRollout, *, ttl_s: float = 5.0, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.rollout = rollout
        self.clock = clock or (lambda: datetime.now(UTC))
        self._cache = _Cached(ttl_s)

    def describe(self) -> list[Metric]:
        return []  # computed at scrape time; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        yield from self._cache.get(self._compute)

    def _compute(self) -> list[Metric]:
        stage = GaugeMetricFamily(
            "stagewise_rollout_stage_percent",
            "Share of units the rollout feature enables now (0 = disabled, 100 = fully rolled out).",
            labels=["feature"],
        )
        killed = GaugeMetricFamily(
            "stagewise_rollout_killed", "1 while the feature's kill switch is engaged.", labels=["feature"]
        )
        kills = CounterMetricFamily(
            "stagewise_rollout_kills", "Kill switch pulls in the audit log.", labels=["feature"]
        )
        rollbacks = CounterMetricFamily(
            "stagewise_rollout_rollbacks", "Rollbacks by the controller in the audit log.", labels=["feature"]
        )
        decisions = CounterMetricFamily(
            "stagewise_rollout_decisions",
            "Controller decisions (not dry runs) in the audit log, per action.",
            labels=["feature", "action"],
        )
        days_at = GaugeMetricFamily(
            "stagewise_rollout_days_at_stage",
            "Whole days the feature has been at its current stage (from its first whole day at it).",
            labels=["feature"],
        )
        try:
            features = self.rollout.get_rollout_status()["feature_rollouts"]
            audit = self.rollout.audit_log()
            counts = rollout_counts(audit)
        except Exception as exc:  # a scrape must never fail: the readiness probe reports the store
            _LOG.error("rollout metrics unavailable: %s", exc)
            return []
        today = self.clock().date()
        for name, info in sorted(features.items()):
            state = self.rollout.feature(name)
            stage.add_metric([name], float(state.stage.percent))
            days = days_at_stage(audit, name, state.stage.name, state.enabled_at, today)
            if days is not None:
                days_at.add_metric([name], float(days))
            killed.add_metric([name], 1.0 if info.get("killed") else 0.0)
            feature_counts = counts.get(name, Counter())
            kills.add_metric([name], float(feature_counts["kills"]))
            rollbacks.add_metric([name], float(feature_counts["rollbacks"]))
            for action in CONTROLLER_ACTIONS:
                decisions.add_metric([name, action], float(feature_counts[f"decision:{action}"]))
        return [stage, killed, kills, rollbacks, decisions, days_at, *_latest_decisions(audit, features)]


def _latest_decisions(audit: Sequence[Mapping[str, object]], features: Iterable[str]) -> list[Metric]:
    """The latest decision record's per-metric p-value and estimate, and its time, per feature."""
    from stagewise.rollout.decisions import DecisionRecord, decisions_from_entries

    labels = ["feature", "metric", "kind"]
    p_value = GaugeMetricFamily(
        "stagewise_rollout_decision_p_value",
        "The latest controller decision's always-valid p-value per judged metric.",
        labels=labels,
    )
    estimate = GaugeMetricFamily(
        "stagewise_rollout_decision_estimate",
        "The latest controller decision's estimate (challenger - control) per judged metric.",
        labels=labels,
    )
    last = GaugeMetricFamily(
        "stagewise_rollout_last_decision_timestamp_seconds",
        "When the controller's latest applied decision was made (Unix time).",
        labels=["feature"],
    )
    latest: dict[str, DecisionRecord] = {}
    for record in decisions_from_entries(audit):  # newest first
        latest.setdefault(record.feature, record)
    for name in sorted(set(features) & set(latest)):
        record = latest[name]
        with contextlib.suppress(ValueError):  # a time that is not ISO 8601 (hand-written entry): none shown
            last.add_metric([name], datetime.fromisoformat(record.decided_at).timestamp())
        for m in record.metrics:
            if m.p_value is not None:
                p_value.add_metric([name, m.metric, m.kind], m.p_value)
            if m.estimate is not None:
                estimate.add_metric([name, m.metric, m.kind], m.estimate)
    return [p_value, estimate, last]


class MonitorCollector:
    """The monitor's latest daily figures (:meth:`PerformanceMonitor.prometheus_metrics`)."""

    def __init__(
        self,
        monitor: Callable[[], PerformanceMonitor],
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._monitor = monitor
        self.clock = clock or (lambda: datetime.now(UTC))
        self._cache = _Cached(ttl_s)
        self._last_good: list[Metric] = []

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from self._cache.get(self._compute)

    def _compute(self) -> list[Metric]:
        up = GaugeMetricFamily(
            "stagewise_monitor_metrics_up", "1 when the ledger's daily figures could be read at the last try."
        )
        try:
            text = self._monitor().prometheus_metrics(end_date=self.clock().date())
            self._last_good = list(text_string_to_metric_families(text))
            up.add_metric([], 1.0)
        except Exception as exc:  # the database may be down; serving metrics must still answer
            _LOG.error("monitor metrics unavailable (keeping the last values): %s", exc)
            up.add_metric([], 0.0)
        return [*self._last_good, up]
