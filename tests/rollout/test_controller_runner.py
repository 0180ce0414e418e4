"""End to end: a real SQLite ledger, a real rollout config file and audit log, a real HTTP notifier."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from routed_races_support import Clock

from stagewise.monitor import PerformanceMonitor
from stagewise.notify import RetryPolicy, WebhookNotifier
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller import ControllerPolicy
from stagewise.rollout.controller_runner import run_controller, stage_start

FEATURE = "probability_calibration"
START = date(2026, 11, 1)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 1, 5, 0, tzinfo=UTC))


@pytest.fixture
def rollout(tmp_path: Path, clock: Clock) -> GradualRollout:
    r = GradualRollout(
        tmp_path / "config" / "rollout_config.json", now=clock, refresh_interval=0, actor="ops"
    )
    r.add_feature(FEATURE, stage="10%", salt=f"{FEATURE}:e2e", reason="start canary")
    return r


@pytest.fixture
def monitor(tmp_path: Path, clock: Clock) -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(monitor_db=tmp_path / "data" / "monitor.db", clock=clock)
    yield m
    m.close()


def log_days(
    monitor: PerformanceMonitor,
    rollout: GradualRollout,
    first: date,
    days: int,
    *,
    races_per_day: int = 200,
    hit_rate: dict[str, float],
    seed: int = 0,
) -> None:
    """Log ``days`` days of races; each race goes to the variant the rollout assigns it.

    A model "hits" a race by predicting the actual order exactly (win, trifecta and score
    accuracy 1.0); otherwise it swaps the first two boats (a miss, score accuracy about 0.97).
    """
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for k in range(days):
        day = first + timedelta(days=k)
        for i in range(races_per_day):
            race_id = f"{day:%Y%m%d}{i % 24 + 1:02d}{i // 24 + 1:02d}"
            variant = rollout.variant(FEATURE, race_id)  # "on" or "control"
            order = [int(p) for p in rng.permutation(6) + 1]
            predicted = order if rng.random() < hit_rate[variant] else [order[1], order[0], *order[2:]]
            rows.append({
                "race_id": race_id, "race_date": day.isoformat(), "venue_code": i % 24 + 1,
                "race_number": i // 24 + 1, "variant": variant, "model_version": variant,
                "predictions": [{"pit_number": p, "total_score": 6 - j} for j, p in enumerate(predicted)],
                "actual_results": [{"pit_number": p, "rank": r} for r, p in enumerate(order, 1)],
            })  # fmt: skip
    monitor.log_predictions(rows)


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def webhook_notifier(url: str) -> WebhookNotifier:
    """The monitor's real webhook notifier, without retry sleeps."""
    return WebhookNotifier(url, policy=RetryPolicy(max_attempts=1, timeout=2.0))


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def test_healthy_challenger_is_promoted_after_enough_days_and_the_audit_has_the_numbers(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock
) -> None:
    log_days(monitor, rollout, START, 9, hit_rate={"on": 0.32, "control": 0.30})
    clock.now = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)

    dry = run_controller(rollout, monitor, FEATURE, now=clock.now, dry_run=True)
    assert (dry.action, dry.to_stage, dry.applied) == ("promote", "50%", False)
    assert rollout.feature(FEATURE).stage.name == "10%"
    assert len(rollout.audit_log()) == 1  # dry-run wrote nothing

    decision = run_controller(rollout, monitor, FEATURE, now=clock.now)
    assert (decision.action, decision.from_stage, decision.to_stage, decision.applied) == (
        "promote", "10%", "50%", True,
    )  # fmt: skip
    assert rollout.feature(FEATURE).stage.name == "50%"
    last = rollout.audit_log()[-1]
    assert (last["action"], last["old_stage"], last["new_stage"], last["actor"]) == (
        "set_stage", "10%", "50%", "stagewise-controller",
    )  # fmt: skip
    numbers = last["details"]["controller"]["numbers"]
    assert numbers["healthy_streak"] >= 3
    assert numbers["srm"]["verdict"] == "ok"
    assert numbers["sequential"]["hit_rate_1st"]["rejected"] is False
    assert 0.25 < numbers["cumulative"]["challenger"]["hit_rate_1st"] < 0.40
    assert rollout.verify_audit().ok

    # the next morning the new stage has no healthy days yet: hold, and the hold is audited too
    clock.now += timedelta(days=1)
    hold = run_controller(rollout, monitor, FEATURE, now=clock.now)
    assert (hold.action, hold.to_stage) == ("hold", "50%")
    assert rollout.audit_log()[-1]["action"] == "controller_hold"
    assert stage_start(rollout.audit_log(), FEATURE, "50%") == date(2026, 11, 10)


def test_critical_challenger_is_rolled_back_at_once_and_notified(
    rollout: GradualRollout,
    monitor: PerformanceMonitor,
    clock: Clock,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = webhook
    log_days(monitor, rollout, START, 7, hit_rate={"on": 0.04, "control": 0.30})
    clock.now = datetime(2026, 11, 8, 5, 0, tzinfo=UTC)
    decision = run_controller(rollout, monitor, FEATURE, now=clock.now, notifiers=[webhook_notifier(url)])
    assert (decision.action, decision.to_stage) == ("rollback", "disabled")
    assert "CRITICAL" in decision.reasons[0]
    assert rollout.feature(FEATURE).stage.name == "disabled"
    assert not rollout.should_enable_feature(FEATURE, "202611080101")
    assert [(n["channel"], n["ok"]) for n in decision.numbers["notifications"]] == [("webhook", True)]
    assert len(received) == 1
    assert received[0]["severity"] == "critical"
    assert received[0]["title"] == f"Rollout of {FEATURE} rolled back: 10% -> disabled"
    assert "CRITICAL" in received[0]["text"]
    assert received[0]["fields"]["control_hit_rate_1st"] > 0.25
    assert rollout.audit_log()[-1]["new_stage"] == "disabled"


def test_significant_harm_rolls_back_while_absolute_health_is_fine(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock
) -> None:
    rollout.update_rollout_stage(FEATURE, "50%", reason="wider canary")
    log_days(monitor, rollout, START, 6, races_per_day=288, hit_rate={"on": 0.22, "control": 0.34})
    clock.now = datetime(2026, 11, 7, 5, 0, tzinfo=UTC)
    decision = run_controller(rollout, monitor, FEATURE, now=clock.now)
    assert decision.action == "rollback"
    assert any("significant harm on hit_rate_1st" in r for r in decision.reasons)
    assert rollout.feature(FEATURE).stage.name == "disabled"


def test_a_failing_notifier_does_not_stop_the_rollback(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock
) -> None:
    log_days(monitor, rollout, START, 7, hit_rate={"on": 0.04, "control": 0.30})
    clock.now = datetime(2026, 11, 8, 5, 0, tzinfo=UTC)
    dead = webhook_notifier("http://127.0.0.1:9/nothing-listens-here")
    decision = run_controller(rollout, monitor, FEATURE, now=clock.now, notifiers=[dead])
    assert decision.action == "rollback"
    assert rollout.feature(FEATURE).stage.name == "disabled"
    assert decision.numbers["notifications"][0]["ok"] is False
    assert rollout.audit_log()[-1]["action"] == "controller_notification_failed"


def test_kill_switch_is_respected(rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock) -> None:
    log_days(monitor, rollout, START, 9, hit_rate={"on": 0.32, "control": 0.30})
    rollout.kill(FEATURE, reason="incident 42")
    clock.now = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)
    decision = run_controller(rollout, monitor, FEATURE, now=clock.now)
    assert decision.action == "none"
    assert rollout.feature(FEATURE).stage.name == "disabled"
    assert rollout.is_killed(FEATURE)
    assert rollout.audit_log()[-1]["action"] == "controller_none"


def test_sample_ratio_mismatch_holds_and_is_notified(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:  # fmt: skip
    url, received = webhook
    log_days(monitor, rollout, START, 9, hit_rate={"on": 0.32, "control": 0.30})
    # a logging bug drops half of the control group's races
    outcomes = monitor.race_outcomes(START, START + timedelta(days=8), variant="control")
    ids = outcomes["race_id"].tolist()[::2]
    import sqlalchemy as sa

    from stagewise.monitor.schema import race_predictions

    def drop(conn: sa.Connection) -> None:
        conn.execute(sa.delete(race_predictions).where(race_predictions.c.race_id.in_(ids)))

    monitor.store.write(drop)
    clock.now = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)
    decision = run_controller(rollout, monitor, FEATURE, now=clock.now, notifiers=[webhook_notifier(url)])
    assert decision.action == "hold"
    assert "sample-ratio mismatch" in decision.reasons[0]
    assert received[0]["severity"] == "warning"
    assert received[0]["fields"]["srm_p_value"] < 0.001
    assert rollout.feature(FEATURE).stage.name == "10%"


def test_policy_days_healthy_is_honoured(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock
) -> None:
    log_days(monitor, rollout, START, 9, hit_rate={"on": 0.32, "control": 0.30})
    clock.now = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)
    d = run_controller(
        rollout, monitor, FEATURE, now=clock.now, dry_run=True, policy=ControllerPolicy(days_healthy=8)
    )
    assert d.action == "hold"
    assert "of 8 HEALTHY days" in d.reasons[0]


def test_a_change_made_while_deciding_is_not_overwritten(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock
) -> None:
    log_days(monitor, rollout, START, 9, hit_rate={"on": 0.32, "control": 0.30})
    clock.now = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)
    other = GradualRollout(rollout.store.location, now=clock, refresh_interval=0, actor="someone-else")

    class Racing(PerformanceMonitor):  # someone moves the stage while the controller reads the ledger
        def race_outcomes(self, *args: Any, **kwargs: Any) -> Any:
            self.tweak()
            return super().race_outcomes(*args, **kwargs)

        def race_outcome_sums(self, *args: Any, **kwargs: Any) -> Any:
            self.tweak()
            return super().race_outcome_sums(*args, **kwargs)

        def tweak(self) -> None:
            if other.feature(FEATURE).stage.name == "10%":
                other.update_rollout_stage(FEATURE, "12.5%", reason="manual tweak")

    racing = Racing(monitor.url, clock=clock)
    try:
        decision = run_controller(rollout, racing, FEATURE, now=clock.now)
    finally:
        racing.close()
    assert decision.action == "none"
    assert "changed while deciding" in decision.reasons[0]
    assert rollout.feature(FEATURE).stage.name == "12.5%"
    assert rollout.audit_log()[-1]["actor"] == "someone-else"


@pytest.mark.postgres
def test_on_postgresql_with_the_rollout_store_and_the_ledger_in_one_schema(pg_url: str, clock: Clock) -> None:
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"ctl_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    db = url.render_as_string(hide_password=False)
    try:
        rollout = GradualRollout(db_url=db, now=clock, refresh_interval=0, actor="ops")
        rollout.add_feature(FEATURE, stage="10%", salt=f"{FEATURE}:pg", reason="start canary")
        monitor = PerformanceMonitor(db, clock=clock)
        try:
            log_days(monitor, rollout, START, 9, hit_rate={"on": 0.32, "control": 0.30})
            clock.now = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)
            decision = run_controller(rollout, monitor, FEATURE, now=clock.now)
        finally:
            monitor.close()
        assert (decision.action, decision.to_stage) == ("promote", "50%")
        assert GradualRollout(db_url=db, refresh_interval=0).feature(FEATURE).stage.name == "50%"
        assert rollout.verify_audit().ok
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def test_shadow_mode_pairs_the_two_model_versions_on_the_same_races(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock
) -> None:
    """Both versions score every race; the challenger loses 6 points of win rate on the same races."""
    rng = np.random.default_rng(8)
    rows: list[dict[str, Any]] = []
    for k in range(6):
        day = START + timedelta(days=k)
        for i in range(150):
            race_id = f"{day:%Y%m%d}{i % 24 + 1:02d}{i // 24 + 1:02d}"
            order = [int(p) for p in rng.permutation(6) + 1]
            champion_hits = rng.random() < 0.32
            challenger_hits = rng.random() < (0.8 if champion_hits else 0.0)  # 0.8 * 0.32 = 0.256
            served = rollout.variant(FEATURE, race_id)
            for version, hit in (("v1", champion_hits), ("v2", challenger_hits)):
                predicted = order if hit else [order[1], order[0], *order[2:]]
                rows.append({
                    "race_id": race_id, "race_date": day.isoformat(), "venue_code": i % 24 + 1,
                    "race_number": i // 24 + 1, "variant": served, "model_version": version,
                    "predictions": [{"pit_number": p} for p in predicted],
                    "actual_results": [{"pit_number": p, "rank": r} for r, p in enumerate(order, 1)],
                })  # fmt: skip
    monitor.log_predictions(rows)
    clock.now = datetime(2026, 11, 7, 5, 0, tzinfo=UTC)
    paired = run_controller(rollout, monitor, FEATURE, now=clock.now, dry_run=True, shadow=("v1", "v2"))
    assert paired.numbers["design"] == "paired (shadow mode)"
    assert paired.action == "rollback"
    assert "significant harm on hit_rate_1st" in paired.reasons[0]
    assert "srm" not in paired.numbers  # every race is in both groups
    assert paired.numbers["groups"] == {"champion_version": "v1", "challenger_version": "v2"}
    # grouped by served variant instead, each group holds both versions: nothing to see
    split = run_controller(rollout, monitor, FEATURE, now=clock.now, dry_run=True)
    assert split.numbers["design"] == "two groups"
    assert split.numbers["sequential"]["hit_rate_1st"]["rejected"] is False


def _abn_days(monitor: PerformanceMonitor, rollout: GradualRollout, *, drop: str | None = None) -> None:
    """Nine days of races assigned by the feature's A/B/n split; ``drop`` loses 40 % of one group's logs."""
    rng = np.random.default_rng(4)
    rows: list[dict[str, Any]] = []
    for k in range(9):
        day = START + timedelta(days=k)
        for i in range(288):
            race_id = f"{day:%Y%m%d}{i % 24 + 1:02d}{i // 24 + 1:02d}"
            group = rollout.variant(FEATURE, race_id)
            if group == drop and rng.random() < 0.4:
                continue
            order = [int(p) for p in rng.permutation(6) + 1]
            predicted = order if rng.random() < 0.3 else [order[1], order[0], *order[2:]]
            rows.append({
                "race_id": race_id, "race_date": day.isoformat(), "venue_code": i % 24 + 1,
                "race_number": i // 24 + 1, "variant": group,
                "predictions": [{"pit_number": p} for p in predicted],
                "actual_results": [{"pit_number": p, "rank": r} for r, p in enumerate(order, 1)],
            })  # fmt: skip
    monitor.log_predictions(rows)


@pytest.mark.parametrize(
    ("drop", "verdict"), [(None, "ok"), ("calib_v3", "hold")], ids=["clean", "lost-logs"]
)
def test_abn_variants_from_the_config_are_checked_for_sample_ratio_mismatch(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock, drop: str | None, verdict: str
) -> None:
    rollout.update_rollout_stage(FEATURE, "50%", reason="A/B/n at 50 %")
    rollout.set_variants(FEATURE, {"calib_v2": 0.5, "calib_v3": 0.5}, reason="two calibrators")
    _abn_days(monitor, rollout, drop=drop)
    clock.now = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)
    decision = run_controller(
        rollout, monitor, FEATURE, now=clock.now, dry_run=True, challenger_variant="calib_v2"
    )
    srm = decision.numbers["srm"]
    assert set(srm["counts"]) == {"control", "calib_v2", "calib_v3"}
    assert srm["expected"]["calib_v3"] == pytest.approx(srm["expected"]["calib_v2"], rel=0.01)
    assert srm["verdict"] == verdict
    if verdict == "hold":
        assert decision.action == "hold"
        assert "sample-ratio mismatch" in decision.reasons[0]
    # without a named challenger every variant is judged, against the same sample-ratio check
    every = run_controller(rollout, monitor, FEATURE, now=clock.now, dry_run=True)
    assert set(every.numbers["variants"]) == {"calib_v2", "calib_v3"}
    assert every.numbers["srm"] == srm
    assert {v["variant"] for v in every.numbers["variants"].values()} == {"calib_v2", "calib_v3"}


def test_a_challenger_variant_outside_the_split_is_refused(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock
) -> None:
    from stagewise._exceptions import ConfigError

    with pytest.raises(ConfigError, match=r"'calib_v9' is not one of the feature's variants \['a', 'b'\]"):
        run_controller(
            rollout, monitor, FEATURE, now=clock.now, dry_run=True, challenger_variant="calib_v9",
            variants={"a": 0.5, "b": 0.5},
        )  # fmt: skip
