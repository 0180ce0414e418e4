"""The Grafana dashboard: a well-formed JSON model on the server's metrics; the shipped file is current."""

from __future__ import annotations

import json
from itertools import combinations

from ops_support import DASHBOARD_FILE

from stagewise.ops import dashboard_text, grafana_dashboard, metric_names

ASKED_FOR = {  # the list: hit rates, calibration, stage, decisions, latency, queue depth
    "stagewise_monitor_hit_rate_1st",
    "stagewise_monitor_expected_hit_rate_1st",
    "stagewise_rollout_stage_percent",
    "stagewise_rollout_decisions_total",
    "stagewise_http_request_duration_seconds_bucket",
    "stagewise_log_queue_depth",
}


def _panels() -> list[dict[str, object]]:
    return [p for p in grafana_dashboard()["panels"] if p["type"] != "row"]  # type: ignore[misc]


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    board = grafana_dashboard()
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids)
    boxes = [p["gridPos"] for p in board["panels"]]
    for box in boxes:
        assert box["x"] >= 0
        assert box["x"] + box["w"] <= 24
    for a, b in combinations(boxes, 2):
        apart = (
            a["x"] + a["w"] <= b["x"]
            or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"]
            or b["y"] + b["h"] <= a["y"]
        )
        assert apart, (a, b)


def test_every_query_uses_the_datasource_variable_and_a_stagewise_metric() -> None:
    board = grafana_dashboard()
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
    used: set[str] = set()
    for panel in _panels():
        targets = panel["targets"]
        assert targets, panel["title"]
        assert len({t["refId"] for t in targets}) == len(targets)  # type: ignore[union-attr]
        for target in targets:  # type: ignore[union-attr]
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            names = metric_names(target["expr"])
            assert names, target["expr"]
            used |= names
    assert used >= ASKED_FOR


def test_the_shipped_dashboard_is_the_generated_one() -> None:
    assert DASHBOARD_FILE.read_text(encoding="utf-8") == dashboard_text(), (
        "ops/grafana/stagewise-dashboard.json is stale: regenerate it with "
        "`stagewise ops grafana-dashboard --output ops/grafana/stagewise-dashboard.json`"
    )
    assert json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))["uid"] == "stagewise-overview"
