"""Performance monitoring: a prediction ledger (SQLite / PostgreSQL), daily stats, alerts, drift, reports.

Start with :class:`PerformanceMonitor`; ``docs/monitor.md`` describes the shapes, tables and rules.
"""

from __future__ import annotations

from stagewise.monitor.alert_config import AlertConfig, AlertRule, load_alert_config
from stagewise.monitor.drift import DriftConfig, DriftReport, detect_drift
from stagewise.monitor.ledger import LogSummary
from stagewise.monitor.monitor import PerformanceMonitor
from stagewise.monitor.reads import LedgerCounts
from stagewise.monitor.records import BoatScore, RacePrediction, SignalPrediction
from stagewise.notify import AlertMessage, DeliveryResult, Notifier, notifiers_from_env, notify_all

__all__ = [
    "AlertConfig",
    "AlertMessage",
    "AlertRule",
    "BoatScore",
    "DeliveryResult",
    "DriftConfig",
    "DriftReport",
    "LedgerCounts",
    "LogSummary",
    "Notifier",
    "PerformanceMonitor",
    "RacePrediction",
    "SignalPrediction",
    "detect_drift",
    "load_alert_config",
    "notifiers_from_env",
    "notify_all",
]
