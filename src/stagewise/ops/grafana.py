"""A Grafana dashboard of a stagewise deployment, built as plain typed dicts (Grafana's JSON model).

Four rows, every panel a PromQL query over the metrics ``stagewise serve`` exposes:

* **Model quality** — win / trifecta / trio hit rates and score accuracy of the latest day per
  model and variant, calibration (the win hit rate the model expected beside the one it got),
  settled and pending races, market direction accuracy, monitor alerts firing;
* **Rollout** — each feature's stage and days at it, kill switches, the controller's decisions and
  rollbacks, the latest decision's p-value per metric;
* **Serving** — requests by route and status, request and scoring latency quantiles,
  predictions by model and variant, models loaded, load failures;
* **Ledger queue** — depth against capacity, rows written, shed, refused and failed writes.

The data source is a dashboard variable (``datasource``), so the file imports into any Grafana
with a Prometheus data source.
"""

from __future__ import annotations

import json
from typing import Any, Literal, NotRequired, TypedDict

__all__ = ["DASHBOARD_UID", "Dashboard", "Panel", "Target", "dashboard_text", "grafana_dashboard"]

DASHBOARD_UID = "stagewise-overview"
_DS = {"type": "prometheus", "uid": "${datasource}"}
_WIDTH = 24
_LEGEND: dict[str, Any] = {"legend": {"displayMode": "list", "placement": "bottom"}}


class Target(TypedDict):
    refId: str
    expr: str
    legendFormat: str
    datasource: dict[str, str]


class GridPos(TypedDict):
    h: int
    w: int
    x: int
    y: int


class Panel(TypedDict):
    id: int
    type: Literal["timeseries", "stat", "row"]
    title: str
    gridPos: GridPos
    description: NotRequired[str]
    datasource: NotRequired[dict[str, str]]
    targets: NotRequired[list[Target]]
    fieldConfig: NotRequired[dict[str, Any]]
    options: NotRequired[dict[str, Any]]
    collapsed: NotRequired[bool]
    panels: NotRequired[list[Panel]]


class Dashboard(TypedDict):
    uid: str
    title: str
    description: str
    tags: list[str]
    timezone: str
    schemaVersion: int
    version: int
    editable: bool
    refresh: str
    time: dict[str, str]
    templating: dict[str, list[dict[str, Any]]]
    annotations: dict[str, list[dict[str, Any]]]
    panels: list[Panel]


class _Layout:
    """Places panels left to right in rows of 24 columns and numbers them."""

    def __init__(self) -> None:
        self.panels: list[Panel] = []
        self.x = 0
        self.y = 0
        self.row_height = 0

    def _next_id(self) -> int:
        return len(self.panels) + 1

    def row(self, title: str) -> None:
        self.y += self.row_height
        self.panels.append(
            {
                "id": self._next_id(),
                "type": "row",
                "title": title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"h": 1, "w": _WIDTH, "x": 0, "y": self.y},
            }
        )
        self.x, self.y, self.row_height = 0, self.y + 1, 0

    def add(
        self,
        title: str,
        queries: list[tuple[str, str]],
        *,
        unit: str = "short",
        kind: Literal["timeseries", "stat"] = "timeseries",
        width: int = 8,
        height: int = 8,
        description: str = "",
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> None:
        if self.x + width > _WIDTH:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        defaults: dict[str, Any] = {"unit": unit}
        if minimum is not None:
            defaults["min"] = minimum
        if maximum is not None:
            defaults["max"] = maximum
        targets: list[Target] = [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend, "datasource": dict(_DS)}
            for i, (expr, legend) in enumerate(queries)
        ]
        panel: Panel = {
            "id": self._next_id(),
            "type": kind,
            "title": title,
            "description": description,
            "datasource": dict(_DS),
            "gridPos": {"h": height, "w": width, "x": self.x, "y": self.y},
            "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": _LEGEND if kind == "timeseries" else {},
        }
        self.panels.append(panel)
        self.x += width
        self.row_height = max(self.row_height, height)


def _quality(layout: _Layout) -> None:
    layout.row("Model quality (latest day in the ledger)")
    by_model = "{{model}} {{variant}}"
    layout.add(
        "Win hit rate (1着的中率)",
        [('stagewise_monitor_hit_rate_1st{domain="races"}', by_model)],
        unit="percentunit",
        minimum=0,
        maximum=1,
        description="Share of settled races whose predicted winner won (seed alert below 15 %).",
    )
    layout.add(
        "Trifecta and trio hit rates",
        [
            ('stagewise_monitor_hit_rate_top3{domain="races"}', "trifecta " + by_model),
            ('stagewise_monitor_hit_rate_trio{domain="races"}', "trio " + by_model),
        ],
        unit="percentunit",
        minimum=0,
        maximum=1,
    )
    layout.add(
        "Score accuracy",
        [('stagewise_monitor_avg_score_accuracy{domain="races"}', by_model)],
        unit="short",
        minimum=0,
        maximum=1,
        description="(Spearman rho + 1) / 2 of predicted against actual order; a random order scores 0.5.",
    )
    layout.add(
        "Calibration: expected against actual win hit rate",
        [
            ('stagewise_monitor_expected_hit_rate_1st{domain="races"}', "expected " + by_model),
            ('stagewise_monitor_hit_rate_1st{domain="races"}', "actual " + by_model),
            (
                'stagewise_monitor_hit_rate_1st{domain="races"} '
                '- stagewise_monitor_expected_hit_rate_1st{domain="races"}',
                "actual - expected " + by_model,
            ),
        ],
        unit="percentunit",
        description="Expected: the mean win probability given to each predicted winner. A calibrated model "
        "keeps the difference near 0.",
    )
    layout.add(
        "Settled and pending races",
        [
            ('stagewise_monitor_total_races{domain="races"}', "settled " + by_model),
            ('stagewise_monitor_pending_races{domain="races"}', "pending " + by_model),
        ],
    )
    layout.add(
        "Market direction accuracy",
        [
            ('stagewise_monitor_accuracy{domain="market"}', by_model),
        ],
        unit="percentunit",
        minimum=0,
        maximum=1,
        width=5,
    )
    layout.add(
        "Monitor alerts firing",
        [("sum by (domain) (stagewise_monitor_alerts_firing)", "{{domain}}")],
        kind="stat",
        width=3,
    )


def _rollout(layout: _Layout) -> None:
    layout.row("Rollout")
    layout.add(
        "Stage per feature",
        [("max by (feature) (stagewise_rollout_stage_percent)", "{{feature}}")],
        unit="percent",
        minimum=0,
        maximum=100,
        width=10,
    )
    layout.add(
        "Controller decisions (per day)",
        [
            (
                "sum by (feature, action) (increase(stagewise_rollout_decisions_total[1d]))",
                "{{feature}} {{action}}",
            )
        ],
        width=8,
    )
    layout.add(
        "Kill switches and rollbacks",
        [
            ("max by (feature) (stagewise_rollout_killed)", "killed {{feature}}"),
            (
                "max by (feature) (increase(stagewise_rollout_rollbacks_total[1d]))",
                "rollbacks/day {{feature}}",
            ),
            ("max by (feature) (increase(stagewise_rollout_kills_total[1d]))", "kills/day {{feature}}"),
        ],
        width=6,
    )
    layout.add(
        "Days at the current stage",
        [("max by (feature) (stagewise_rollout_days_at_stage)", "{{feature}}")],
        unit="d",
        minimum=0,
        width=10,
        description="Whole days each feature has been at its stage: a rollout stuck at 10 % shows here.",
    )
    layout.add(
        "Latest decision: always-valid p-value per metric",
        [
            (
                "min by (feature, variant, metric, kind) (stagewise_rollout_decision_p_value)",
                "{{feature}} {{variant}} {{metric}} ({{kind}})",
            )
        ],
        minimum=0,
        maximum=1,
        width=14,
        description="Per metric (and A/B/n variant; none without a split) of the controller's latest applied "
        "run (`stagewise rollout decisions`).",
    )


def _serving(layout: _Layout) -> None:
    layout.row("Serving")
    layout.add(
        "Requests per second by route and status",
        [("sum by (route, status) (rate(stagewise_http_requests_total[5m]))", "{{route}} {{status}}")],
        unit="reqps",
    )
    layout.add(
        "Request latency",
        [
            (
                f"histogram_quantile({q}, sum by (le) "
                "(rate(stagewise_http_request_duration_seconds_bucket[5m])))",
                f"p{round(q * 100)}",
            )
            for q in (0.5, 0.95, 0.99)
        ],
        unit="s",
    )
    layout.add(
        "Scoring latency p95 by model",
        [
            (
                "histogram_quantile(0.95, sum by (le, model_version) "
                "(rate(stagewise_prediction_duration_seconds_bucket[5m])))",
                "{{model_version}}",
            )
        ],
        unit="s",
    )
    layout.add(
        "Predictions per second by model and variant",
        [
            (
                "sum by (model_version, variant, mode) (rate(stagewise_predictions_total[5m]))",
                "{{model_version}} {{variant}} {{mode}}",
            )
        ],
        unit="ops",
        width=12,
    )
    layout.add(
        "Models served",
        [("max by (role, version) (stagewise_model_loaded) == 1", "{{role}} {{version}}")],
        kind="stat",
        width=6,
    )
    layout.add(
        "Model load failures (1 h)",
        [("sum by (role) (increase(stagewise_model_load_failures_total[1h]))", "{{role}}")],
        kind="stat",
        width=6,
    )


def _queue(layout: _Layout) -> None:
    layout.row("Ledger queue")
    layout.add(
        "Queue depth and capacity",
        [
            ("sum(stagewise_log_queue_depth)", "waiting"),
            ("sum(stagewise_log_queue_capacity)", "capacity (shedding above)"),
        ],
    )
    layout.add(
        "Rows written per second",
        [("sum by (kind) (rate(stagewise_ledger_rows_written_total[5m]))", "{{kind}}")],
        unit="ops",
    )
    layout.add(
        "Shed, refused and failed (5 min)",
        [
            ("sum(increase(stagewise_predictions_shed_total[5m]))", "shed (answered, not logged)"),
            ("sum by (kind) (increase(stagewise_ledger_rows_rejected_total[5m]))", "refused {{kind}}"),
            ("sum by (kind) (increase(stagewise_ledger_write_failures_total[5m]))", "failed writes {{kind}}"),
        ],
    )


def grafana_dashboard(*, title: str = "stagewise", refresh: str = "1m") -> Dashboard:
    """The dashboard as Grafana's JSON model.

    Examples
    --------
    >>> board = grafana_dashboard()
    >>> board["uid"], [p["title"] for p in board["panels"] if p["type"] == "row"][:2]
    ('stagewise-overview', ['Model quality (latest day in the ledger)', 'Rollout'])
    """
    layout = _Layout()
    for section in (_quality, _rollout, _serving, _queue):
        section(layout)
    return {
        "uid": DASHBOARD_UID,
        "title": title,
        "description": "Model quality, rollout, serving and ledger queue of stagewise "
        "(from `stagewise ops grafana-dashboard`).",
        "tags": ["stagewise"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": refresh,
        "time": {"from": "now-7d", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                }
            ]
        },
        "annotations": {"list": []},
        "panels": layout.panels,
    }


def dashboard_text(dashboard: Dashboard | None = None) -> str:
    """The dashboard as indented JSON, ready for Grafana's *Import dashboard*."""
    board = dashboard if dashboard is not None else grafana_dashboard()
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"
