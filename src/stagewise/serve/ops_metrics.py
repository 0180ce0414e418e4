"""Metrics read at scrape time: the rollout's state and decisions, and the monitor's daily figures.

Both describe shared state (the rollout store, the ledger), not this process, so they are
computed when ``/metrics`` is scraped, never summed over workers, and cached for ``ttl_s``
seconds so that a scrape every few seconds costs at most one read per interval:

* :class:`RolloutCollector` — per rollout feature: ``stagewise_rollout_stage_percent``,
  ``stagewise_rollout_killed``, and from the hash-chained audit log (durable, so these counters
  survive restarts and agree on every host) ``stagewise_rollout_kills_total``,
  ``stagewise_rollout_rollbacks_total`` and ``stagewise_rollout_decisions_total{action, variant}``;
  ``stagewise_rollout_days_at_stage`` (whole days since the current stage was set) and, from the
  latest controller run's decision records (:mod:`stagewise.rollout.decisions`; an A/B/n run has
  one per variant), one ``stagewise_rollout_decision_p_value`` /
  ``stagewise_rollout_decision_estimate`` per judged metric ``{feature, variant, metric, kind}`` and
  ``stagewise_rollout_last_decision_timestamp_seconds``.

``variant`` is the A/B/n variant a decision judged, ``none`` for a decision about no variant (the
convention of the serving metrics). Its values are the feature's variant names, so the label stays
bounded.
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

__all__ = [
    "CONTROLLER_ACTIONS",
    "NO_VARIANT",
    "MonitorCollector",
    "RolloutCollector",
    "days_at_stage",
    "decision_counts",
    "rollout_counts",
]

_LOG = logging.getLogger("stagewise.serve")
CONTROLLER_ACTIONS = ("promote", "hold", "rollback", "none")
_CONTROLLER = "stagewise-controller"
NO_VARIANT = "none"
"""The ``variant`` label of a decision about no A/B/n variant."""


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


def decision_counts(audit: Sequence[Mapping[str, object]]) -> dict[str, Counter[tuple[str, str]]]:
    """Per feature: controller decisions by ``(variant, action)`` (``variant`` :data:`NO_VARIANT` when none).

    Examples
    --------
    >>> audit = [{"feature": "f", "actor": "stagewise-controller",
    ...           "details": {"controller": {"action": "rollback", "variant": "b"}}},
    ...          {"feature": "f", "actor": "stagewise-controller",
    ...           "details": {"controller": {"action": "hold"}}}]
    >>> sorted(decision_counts(audit)["f"].items())
    [(('b', 'rollback'), 1), (('none', 'hold'), 1)]
    """
    out: dict[str, Counter[tuple[str, str]]] = {}
    for entry in audit:
        feature = entry.get("feature")
        details = entry.get("details")
        record = details.get("controller") if isinstance(details, dict) else None
        if isinstance(feature, str) and entry.get("actor") == _CONTROLLER and isinstance(record, dict):
            variant = record.get("variant")
            label = variant if isinstance(variant, str) and variant else NO_VARIANT
            out.setdefault(feature, Counter())[(label, str(record.get("action")))] += 1
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
            "Controller decisions (not dry runs) in the audit log, per action and A/B/n variant judged "
            "(none for a decision about no variant).",
            labels=["feature", "action", "variant"],
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
            by_variant = decision_counts(audit)
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
            variant_counts = by_variant.get(name, Counter())
            for variant in sorted({NO_VARIANT} | {v for v, _ in variant_counts}):
                for action in CONTROLLER_ACTIONS:
                    decisions.add_metric([name, action, variant], float(variant_counts[(variant, action)]))
        return [stage, killed, kills, rollbacks, decisions, days_at, *_latest_decisions(audit, features)]


def _latest_decisions(audit: Sequence[Mapping[str, object]], features: Iterable[str]) -> list[Metric]:
    """The latest controller run's per-metric p-values and estimates (one decision record, or one per
    A/B/n variant: the feature's newest records made at the same time), and its time, per feature."""
    from stagewise.rollout.decisions import DecisionRecord, decisions_from_entries

    labels = ["feature", "variant", "metric", "kind"]
    p_value = GaugeMetricFamily(
        "stagewise_rollout_decision_p_value",
        "The latest controller decision's always-valid p-value per judged metric (and A/B/n variant).",
        labels=labels,
    )
    estimate = GaugeMetricFamily(
        "stagewise_rollout_decision_estimate",
        "The latest controller decision's estimate (challenger - control) per judged metric (and variant).",
        labels=labels,
    )
    last = GaugeMetricFamily(
        "stagewise_rollout_last_decision_timestamp_seconds",
        "When the controller's latest applied decision was made (Unix time).",
        labels=["feature"],
    )
    latest: dict[str, list[DecisionRecord]] = {}
    for record in decisions_from_entries(audit):  # newest first
        run = latest.setdefault(record.feature, [record])
        if record.decided_at == run[0].decided_at and record.variant not in {r.variant for r in run}:
            run.append(record)  # another variant's decision of the same A/B/n run
    for name in sorted(set(features) & set(latest)):
        run = latest[name]
        with contextlib.suppress(ValueError):  # a time that is not ISO 8601 (hand-written entry): none shown
            last.add_metric([name], datetime.fromisoformat(run[0].decided_at).timestamp())
        for record in run:
            variant = record.variant or NO_VARIANT
            for m in record.metrics:
                if m.p_value is not None:
                    p_value.add_metric([name, variant, m.metric, m.kind], m.p_value)
                if m.estimate is not None:
                    estimate.add_metric([name, variant, m.metric, m.kind], m.estimate)
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
