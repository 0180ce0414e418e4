"""The metrics the alerting rules and the dashboard read, as ``GET /metrics`` shows them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
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
        assert (
            samples[
                ("stagewise_rollout_decisions_total", (("action", "hold"), *feature, ("variant", "none")))
            ]
            == 0
        )
        monitor = PerformanceMonitor(settings.db_url)
        run_controller(rollout, monitor, "challenger_model", now=datetime.now(UTC))  # applied: a hold
        monitor.close()
        _wait_for(
            client,
            "stagewise_rollout_decisions_total",
            {"feature": "challenger_model", "action": "hold", "variant": "none"},
            1,
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
    assert (
        samples[("stagewise_rollout_decisions_total", (("action", "promote"), *calib, ("variant", "none")))]
        == 1
    )
    for m in record.metrics:
        labels = tuple(
            sorted({"feature": "calib", "variant": "none", "metric": m.metric, "kind": m.kind}.items())
        )
        assert samples[("stagewise_rollout_decision_p_value", labels)] == m.p_value
        if m.estimate is not None:
            assert samples[("stagewise_rollout_decision_estimate", labels)] == m.estimate
    assert {m.metric for m in record.metrics} == {"hit_rate_1st", "avg_score_accuracy", "sample_ratio"}
    assert (
        samples[("stagewise_rollout_last_decision_timestamp_seconds", calib)]
        == (start + timedelta(days=7)).timestamp()
    )


ABN_WIN = {"control": 0.40, "equal": 0.40, "better": 0.60, "harmful": 0.12}


def _abn_feature(rollout: GradualRollout) -> None:
    rollout.add_feature("abn", stage="50%", salt="abn:metrics", reason="A/B/n")
    rollout.set_variants(
        "abn", {"harmful": 1 / 3, "equal": 1 / 3, "better": 1 / 3}, reason="three candidates"
    )


def _abn_run(rollout: GradualRollout, ledger: MemoryOutcomes, first: date, days: int) -> None:
    """``days`` days of races from ``first``, routed by the rollout as it stands, then one A/B/n run."""
    rng = np.random.default_rng(first.toordinal())
    for k in range(days):
        day = first + timedelta(days=k)
        for i in range(240):
            race_id = f"{day:%Y%m%d}{i:04d}"
            variant = rollout.variant("abn", race_id)
            won = bool(rng.random() < ABN_WIN[variant])
            ledger.add_race(
                race_id, day, variant=variant, model_version=variant, hit_1st=won, hit_top3=won,
                score_accuracy=0.9 if won else 0.75,
            )  # fmt: skip
    now = datetime.combine(first + timedelta(days=days), datetime.min.time(), UTC) + timedelta(hours=5)
    run_controller(rollout, ledger, ControllerQuery("abn", now=now))


def test_an_abn_run_is_exported_per_variant_in_the_metrics_text(
    make_settings: Callable[..., ServeSettings],
) -> None:
    """Each variant's decision of an A/B/n run is one ``variant`` of the decision counter and of the
    latest p-values; a decision about no variant is ``variant="none"``."""
    settings = make_settings()
    start = datetime.now(UTC) - timedelta(days=8)
    rollout = GradualRollout(settings.rollout_config, actor="test", refresh_interval=0, now=lambda: start)
    rollout.add_feature("plain", "10%", reason="canary")
    _abn_feature(rollout)
    _abn_run(rollout, MemoryOutcomes(), start.date(), 7)
    records = rollout.decisions("abn")
    assert {r.variant for r in records} == {"harmful", "equal", "better"}
    by_variant = {r.variant: r for r in records}
    assert by_variant["harmful"].action == "rollback"
    with TestClient(create_app(settings, admin_token=None)) as client:
        samples = _samples(client)
    for variant, record in by_variant.items():
        for action in ("promote", "hold", "rollback", "none"):
            labels = (("action", action), ("feature", "abn"), ("variant", variant))
            assert samples[("stagewise_rollout_decisions_total", labels)] == (action == record.action)
        judged = [m for m in record.metrics if m.p_value is not None]
        assert judged, record
        for m in judged:
            labels = tuple(
                sorted({"feature": "abn", "variant": variant, "metric": m.metric, "kind": m.kind}.items())
            )
            assert samples[("stagewise_rollout_decision_p_value", labels)] == m.p_value
    assert {dict(k[1])["variant"] for k in samples if k[0] == "stagewise_rollout_decision_p_value"} == {
        "harmful", "equal", "better",
    }  # fmt: skip
    plain = (("action", "hold"), ("feature", "plain"), ("variant", "none"))
    assert samples[("stagewise_rollout_decisions_total", plain)] == 0  # exists at 0 for the alert rules
    assert (
        "stagewise_rollout_decisions_total",
        (("action", "hold"), ("feature", "abn"), ("variant", "none")),
    ) in samples


def test_the_latest_run_of_a_feature_replaces_the_variants_of_the_previous_run() -> None:
    """Once the harmful variant is rolled back, the next run judges two variants: the p-values show those
    two only (a retired variant's old numbers are not kept as if current); the counter keeps every
    variant's decisions."""
    start = datetime(2026, 11, 1, 5, tzinfo=UTC)
    rollout = GradualRollout(store=MemoryRolloutStore(), now=lambda: start, actor="ops", refresh_interval=0)
    _abn_feature(rollout)
    ledger = MemoryOutcomes()
    _abn_run(rollout, ledger, start.date(), 2)  # too few healthy days to promote; enough to see harm
    first = {r.variant: r for r in rollout.decisions("abn")}
    assert {v: r.action for v, r in first.items()} == {
        "harmful": "rollback",
        "equal": "hold",
        "better": "hold",
    }
    assert rollout.feature("abn").extra["retired_variants"] == ["harmful"]
    _abn_run(rollout, ledger, start.date() + timedelta(days=2), 1)
    ledger_day = datetime(2026, 11, 4, 5, tzinfo=UTC)
    latest = rollout.decisions("abn")[0]
    second = {r.variant: r for r in rollout.decisions("abn") if r.decided_at == latest.decided_at}
    assert set(second) == {"equal", "better"}

    samples = _exposition(RolloutCollector(rollout, clock=lambda: ledger_day))
    exported = {dict(k[1])["variant"] for k in samples if k[0] == "stagewise_rollout_decision_p_value"}
    assert exported == {"equal", "better"}
    rollback = (("action", "rollback"), ("feature", "abn"), ("variant", "harmful"))
    assert samples[("stagewise_rollout_decisions_total", rollback)] == 1
    assert (
        samples[("stagewise_rollout_last_decision_timestamp_seconds", (("feature", "abn"),))]
        == ledger_day.timestamp()
    )
