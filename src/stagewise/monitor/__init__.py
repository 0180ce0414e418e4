"""Performance monitoring: a prediction ledger (SQLite / PostgreSQL), daily stats, alerts, drift, reports.

Start with :class:`PerformanceMonitor`; ``docs/monitor.md`` describes the shapes, tables and rules.
"""

from __future__ import annotations

from stagewise.monitor.alert_config import AlertConfig, AlertRule, load_alert_config
from stagewise.monitor.drift import DriftConfig, DriftReport, detect_drift
from stagewise.monitor.ledger import LogSummary
from stagewise.monitor.monitor import PerformanceMonitor
from stagewise.notify import AlertMessage, DeliveryResult, Notifier, notifiers_from_env, notify_all

__all__ = [
    "AlertConfig",
    "AlertMessage",
    "AlertRule",
    "DeliveryResult",
    "DriftConfig",
    "DriftReport",
    "LogSummary",
    "Notifier",
    "PerformanceMonitor",
    "detect_drift",
    "load_alert_config",
    "notifiers_from_env",
    "notify_all",
]
