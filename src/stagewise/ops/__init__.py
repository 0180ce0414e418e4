"""Operations artefacts built from code: Prometheus alerting rules and a Grafana dashboard.

``stagewise ops prometheus-rules`` and ``stagewise ops grafana-dashboard`` print them; both name
only metrics that ``stagewise serve`` exposes at ``/metrics`` (a test scrapes a real server with a
real Prometheus to prove it). See ``docs/platforms.md``.
"""

from __future__ import annotations

from stagewise.ops.grafana import dashboard_text, grafana_dashboard
from stagewise.ops.prometheus_rules import prometheus_rules, rules_text
from stagewise.ops.promql import metric_names

__all__ = ["dashboard_text", "grafana_dashboard", "metric_names", "prometheus_rules", "rules_text"]
