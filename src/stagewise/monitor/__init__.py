"""Performance monitoring: a prediction ledger (SQLite / PostgreSQL), daily stats, alerts, drift, reports.

Start with :class:`PerformanceMonitor`; ``docs/monitor.md`` describes the shapes, tables and rules.
"""

from __future__ import annotations

from stagewise.monitor.alert_config import AlertConfig, AlertRule, load_alert_config
from stagewise.monitor.drift import DriftConfig, DriftReport, detect_drift
from stagewise.monitor.ledger import LogSummary
from stagewise.monitor.monitor import PerformanceMonitor

__all__ = [
    "AlertConfig",
    "AlertRule",
    "DriftConfig",
    "DriftReport",
    "LogSummary",
    "PerformanceMonitor",
    "detect_drift",
    "load_alert_config",
]
