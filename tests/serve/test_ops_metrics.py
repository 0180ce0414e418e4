"""The metrics the alerting rules and the dashboard read, as ``GET /metrics`` shows them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from serve_support import TOKEN, TestClient, race_payloads, request_body

from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller_runner import run_controller
from stagewise.serve import ServeSettings, create_app

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _wait_for(client: TestClient, name: str, labels: dict[str, str], value: float) -> dict[Any, float]:
    """Scrape until the sample has ``value`` (scrape-time metrics are cached for a few seconds)."""
    key = (name, tuple(sorted(labels.items())))
    deadline = time.monotonic() + 15
    while True:
        samples = _samples(client)
        if samples.get(key) == value or time.monotonic() > deadline:
            assert samples.get(key) == value, (key, samples.get(key))
            return samples
        time.sleep(0.5)


def test_counters_the_rules_read_exist_at_zero_from_the_start(
    make_settings: Callable[..., ServeSettings],
) -> None:
    with TestClient(create_app(make_settings(queue_max=1234), admin_token=None)) as client:
        samples = _samples(client)
    assert samples[("stagewise_log_queue_capacity", ())] == 1234
    assert samples[("stagewise_predictions_shed_total", ())] == 0
    for kind in ("race", "signal"):
        for name in ("written", "rejected"):
            assert samples[(f"stagewise_ledger_rows_{name}_total", (("kind", kind),))] == 0
        assert samples[("stagewise_ledger_write_failures_total", (("kind", kind),))] == 0
    for role in ("champion", "challenger", "market"):
        assert samples[("stagewise_model_load_failures_total", (("role", role),))] == 0


def test_a_refused_model_version_is_a_load_failure_and_a_missing_alias_is_not(
    make_settings: Callable[..., ServeSettings], models_dir: Path, versions: dict[str, str]
) -> None:
    target = next((models_dir / "training" / versions["challenger"]).glob("lightgbm*"))
    target.write_bytes(target.read_bytes() + b"\n")
    settings = make_settings(market_ref="no-such-alias")
    with TestClient(create_app(settings, admin_token=None)) as client:
        samples = _samples(client)
        assert "market" in client.get("/readyz").json()["model_errors"]
    assert samples[("stagewise_model_load_failures_total", (("role", "challenger"),))] == 1
    assert samples[("stagewise_model_load_failures_total", (("role", "champion"),))] == 0
    assert samples[("stagewise_model_load_failures_total", (("role", "market"),))] == 0


def test_rollout_stage_kill_switch_and_controller_decisions(
    make_settings: Callable[..., ServeSettings],
) -> None:
    settings = make_settings()
    rollout = GradualRollout(settings.rollout_config, actor="test")
    rollout.add_feature("challenger_model", "10%", reason="canary")
    rollout.add_feature("other", "50%", reason="another")
    with TestClient(create_app(settings, admin_token=TOKEN)) as client:
        samples = _samples(client)
        feature = (("feature", "challenger_model"),)
        assert samples[("stagewise_rollout_stage_percent", feature)] == 10
        assert samples[("stagewise_rollout_stage_percent", (("feature", "other"),))] == 50
        assert samples[("stagewise_rollout_killed", feature)] == 0
        assert samples[("stagewise_rollout_kills_total", feature)] == 0
        assert samples[("stagewise_rollout_decisions_total", (("action", "hold"), *feature))] == 0
        monitor = PerformanceMonitor(settings.db_url)
        run_controller(rollout, monitor, "challenger_model", now=datetime.now(UTC))  # applied: a hold
        monitor.close()
        _wait_for(
            client, "stagewise_rollout_decisions_total", {"feature": "challenger_model", "action": "hold"}, 1
        )
        assert client.post("/admin/kill", json={"reason": "drill"}, headers=AUTH).status_code == 200
        samples = _wait_for(client, "stagewise_rollout_killed", {"feature": "challenger_model"}, 1)
        assert samples[("stagewise_rollout_kills_total", feature)] == 1
        assert samples[("stagewise_rollout_stage_percent", feature)] == 0
        assert samples[("stagewise_rollout_rollbacks_total", feature)] == 0  # a kill is not a rollback


def test_the_ledgers_daily_figures_are_scraped_with_the_serving_metrics(
    make_settings: Callable[..., ServeSettings],
) -> None:
    payloads = race_payloads(12, prefix="m-")
    with TestClient(create_app(make_settings(), admin_token=None)) as client:
        for p in payloads:
            assert client.post("/v1/races/predict", json=request_body(p)).status_code == 200
        for p in payloads:
            assert (
                client.post(
                    "/v1/results", json={"race_id": p["race_id"], "results": p["_result"]}
                ).status_code
                == 200
            )
        samples = _samples(client)
    assert samples[("stagewise_monitor_metrics_up", ())] == 1
    hit = {k: v for k, v in samples.items() if k[0] == "stagewise_monitor_hit_rate_1st"}
    assert hit, "no hit rate scraped"
    expected = {k: v for k, v in samples.items() if k[0] == "stagewise_monitor_expected_hit_rate_1st"}
    assert set(k[1] for k in expected) == set(k[1] for k in hit)
    assert all(0 < v < 1 for v in expected.values())
    settled = sum(v for k, v in samples.items() if k[0] == "stagewise_monitor_total_races")
    assert settled == 12
    assert ("stagewise_monitor_alerts_firing", (("domain", "races"),)) in samples


def test_a_ledger_that_cannot_be_read_keeps_metrics_answering(
    make_settings: Callable[..., ServeSettings], tmp_path: Path
) -> None:
    bad = tmp_path / "not-a-db"
    bad.write_bytes(b"this is not SQLite" * 100)
    with TestClient(create_app(make_settings(db_url=f"sqlite:///{bad}"), admin_token=None)) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200
    assert "stagewise_monitor_metrics_up 0.0" in answer.text
    assert "stagewise_http_requests_total" in answer.text or "stagewise_log_queue_depth" in answer.text
