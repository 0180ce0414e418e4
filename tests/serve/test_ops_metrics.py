"""The metrics the alerting rules and the dashboard read, as ``GET /metrics`` shows them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from serve_support import TOKEN, TestClient, race_payloads, request_body

from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout, MemoryRolloutStore
from stagewise.rollout.controller_query import ControllerQuery
from stagewise.rollout.controller_runner import run_controller
from stagewise.rollout.outcomes import MemoryOutcomes
from stagewise.serve import ServeSettings, create_app
from stagewise.serve.ops_metrics import RolloutCollector

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


def _exposition(collector: RolloutCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }


def test_days_at_stage_and_the_latest_decisions_metrics() -> None:
    """After a promotion on 8 Nov, on 11 Nov the feature has been 3 days at 50 %; the latest decision's
    p-values and estimates are exported per metric, and its time."""
    start = datetime(2026, 11, 1, 5, tzinfo=UTC)
    rollout = GradualRollout(store=MemoryRolloutStore(), now=lambda: start, actor="ops", refresh_interval=0)
    rollout.add_feature("calib", stage="10%", salt="calib:metrics")
    rollout.add_feature("idle", stage="disabled", salt="idle:metrics")
    ledger = MemoryOutcomes()
    for k in range(7):
        day = start.date() + timedelta(days=k)
        for variant, races in (("on", 50), ("control", 450)):
            for i in range(races):
                won = i % 10 < 3
                ledger.add_race(
                    f"{day}-{variant}-{i}", day, variant=variant, hit_1st=won, hit_top3=won,
                    score_accuracy=1.0 if won else 0.97,
                )  # fmt: skip
    decision = run_controller(rollout, ledger, ControllerQuery("calib", now=start + timedelta(days=7)))
    assert (decision.action, decision.to_stage) == ("promote", "50%")
    (record,) = rollout.decisions("calib")

    samples = _exposition(RolloutCollector(rollout, clock=lambda: datetime(2026, 11, 11, 9, tzinfo=UTC)))
    calib = (("feature", "calib"),)
    assert samples[("stagewise_rollout_days_at_stage", calib)] == 3
    assert (
        samples[("stagewise_rollout_days_at_stage", (("feature", "idle"),))] == 10
    )  # disabled since created
    assert samples[("stagewise_rollout_stage_percent", calib)] == 50
    assert samples[("stagewise_rollout_decisions_total", (("action", "promote"), *calib))] == 1
    for m in record.metrics:
        labels = tuple(sorted({"feature": "calib", "metric": m.metric, "kind": m.kind}.items()))
        assert samples[("stagewise_rollout_decision_p_value", labels)] == m.p_value
        if m.estimate is not None:
            assert samples[("stagewise_rollout_decision_estimate", labels)] == m.estimate
    assert {m.metric for m in record.metrics} == {"hit_rate_1st", "avg_score_accuracy", "sample_ratio"}
    assert (
        samples[("stagewise_rollout_last_decision_timestamp_seconds", calib)]
        == (start + timedelta(days=7)).timestamp()
    )
