"""Metrics read at scrape time: the rollout's state and decisions, and the monitor's daily figures.

Both describe shared state (the rollout store, the ledger), not this process, so they are
computed when ``/metrics`` is scraped, never summed over workers, and cached for ``ttl_s``
seconds so that a scrape every few seconds costs at most one read per interval:

* :class:`RolloutCollector` — per rollout feature: ``stagewise_rollout_stage_percent``,
  ``stagewise_rollout_killed``, and from the hash-chained audit log (durable, so these counters
  survive restarts and agree on every host) ``stagewise_rollout_kills_total``,
  ``stagewise_rollout_rollbacks_total`` and ``stagewise_rollout_decisions_total{action}``.
* :class:`MonitorCollector` — the monitor's exposition (:mod:`stagewise.monitor.prometheus`):
  hit rates, score accuracy, the calibration gauge and ``stagewise_monitor_alerts_firing``,
  plus ``stagewise_monitor_metrics_up`` (0 while the ledger cannot be read; the last good
  values are kept meanwhile).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["CONTROLLER_ACTIONS", "MonitorCollector", "RolloutCollector", "rollout_counts"]

_LOG = logging.getLogger("stagewise.serve")
CONTROLLER_ACTIONS = ("promote", "hold", "rollback", "none")
_CONTROLLER = "stagewise-controller"


def rollout_counts(audit: Sequence[dict[str, Any]]) -> dict[str, Counter[str]]:
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

    def __init__(self, rollout: Any, *, ttl_s: float = 5.0) -> None:
        self.rollout = rollout
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
        try:
            features = self.rollout.get_rollout_status()["feature_rollouts"]
            counts = rollout_counts(self.rollout.audit_log())
        except Exception as exc:  # a scrape must never fail: the readiness probe reports the store
            _LOG.error("rollout metrics unavailable: %s", exc)
            return []
        for name, info in sorted(features.items()):
            state = self.rollout.feature(name)
            stage.add_metric([name], float(state.stage.percent))
            killed.add_metric([name], 1.0 if info.get("killed") else 0.0)
            feature_counts = counts.get(name, Counter())
            kills.add_metric([name], float(feature_counts["kills"]))
            rollbacks.add_metric([name], float(feature_counts["rollbacks"]))
            for action in CONTROLLER_ACTIONS:
                decisions.add_metric([name, action], float(feature_counts[f"decision:{action}"]))
        return [stage, killed, kills, rollbacks, decisions]


class MonitorCollector:
    """The monitor's latest daily figures (:meth:`PerformanceMonitor.prometheus_metrics`)."""

    def __init__(
        self,
        monitor: Callable[[], Any],
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
