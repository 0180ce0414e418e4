"""The controller on market signals: a real SQLite ledger, the markets health policy, a real config file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from routed_races_support import Clock, routed_races

from stagewise import ConfigError
from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout
from stagewise.rollout.cohorts import market_daily_counts, market_health_metrics
from stagewise.rollout.controller import ControllerPolicy, Decision
from stagewise.rollout.controller_runner import run_controller, stage_first_day

FEATURE = "challenger_model"
START = date(2017, 10, 2)
POLICY = ControllerPolicy(days_healthy=3, min_races_per_day=1)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2017, 10, 2, 0, 0, tzinfo=UTC))


@pytest.fixture
def rollout(tmp_path: Path, clock: Clock) -> GradualRollout:
    r = GradualRollout(
        tmp_path / "rollout_config.json", now=clock, refresh_interval=0, actor="ops", health_policy="markets"
    )
    r.add_feature(FEATURE, stage="10%", salt=f"{FEATURE}:markets", reason="start canary")
    return r


@pytest.fixture
def monitor(tmp_path: Path, clock: Clock) -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(monitor_db=tmp_path / "monitor.db", clock=clock, notifiers=[])
    yield m
    m.close()


def _day(
    monitor: PerformanceMonitor,
    rollout: GradualRollout,
    clock: Clock,
    day: date,
    rng: np.random.Generator,
    *,
    challenger_confidence: float,
) -> None:
    """24 hourly bars: each routed, its signal logged, then settled with a random direction.

    Control says 0.5 ± 0.05; the challenger says ``challenger_confidence`` for a random direction.
    """
    for hour in range(24):
        ts = datetime(day.year, day.month, day.day, hour)
        clock.now = (ts + timedelta(hours=1)).replace(tzinfo=UTC)
        enabled = rollout.should_enable_feature(FEATURE, f"EURUSD:{ts.isoformat()}")
        if enabled:
            up = bool(rng.integers(2))
            p = challenger_confidence if up else 1 - challenger_confidence
        else:
            p = float(rng.uniform(0.45, 0.55))
        variant = "on" if enabled else "control"
        version = "v-challenger" if enabled else "v-champion"
        monitor.log_signal("EURUSD", ts, int(p >= 0.5), p, model_version=version, variant=variant)
        clock.now += timedelta(hours=1)
        monitor.log_market_outcome("EURUSD", ts, int(rng.integers(2)))


def _replay(
    monitor: PerformanceMonitor, rollout: GradualRollout, clock: Clock, days: int, confidence: float
) -> list[Decision]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(days):
        day = START + timedelta(days=i)
        _day(monitor, rollout, clock, day, rng, challenger_confidence=confidence)
        now = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        clock.now = now
        out.append(run_controller(rollout, monitor, FEATURE, now=now, policy=POLICY, health_window_days=60))
        if out[-1].action == "rollback":
            break
    return out


def _settled_at_stage(decision: Decision) -> int:
    return sum(d["races"] for d in decision.numbers["days"] if d["at_stage"])


def test_a_modest_uninformed_challenger_gets_no_verdict_before_50_signals_then_is_promoted(
    monitor: PerformanceMonitor, rollout: GradualRollout, clock: Clock
) -> None:
    decisions = _replay(monitor, rollout, clock, 40, confidence=0.52)
    actions = [d.action for d in decisions]
    assert "rollback" not in actions
    first = actions.index("promote")
    assert decisions[first].to_stage == "50%"
    assert set(actions[:first]) == {"hold"}
    verdicts = [(_settled_at_stage(d), d.numbers["days"][-1]["health"]) for d in decisions[: first + 1]]
    assert all(v == "INSUFFICIENT_DATA" for n, v in verdicts if n < 50), verdicts
    assert all(v == "HEALTHY" for n, v in verdicts if n >= 50), verdicts
    assert [v for _, v in verdicts].count("HEALTHY") == 3  # promoted on the third healthy day
    assert (
        "HEALTHY for 3 consecutive days at 10% (>= 3, each with >= 1 signals)" in decisions[first].reasons[0]
    )


def test_a_confidently_random_challenger_is_rolled_back_once_its_sample_counts(
    monitor: PerformanceMonitor, rollout: GradualRollout, clock: Clock
) -> None:
    decisions = _replay(monitor, rollout, clock, 40, confidence=0.97)
    last = decisions[-1]
    assert last.action == "rollback"
    assert last.to_stage == "disabled"
    reason = " ".join(last.reasons)
    assert "Brier skill vs the base rate" in reason or "probability score (1 − Brier)" in reason, reason
    assert {d.action for d in decisions[:-1]} == {"hold"}
    assert _settled_at_stage(last) < 80  # caught soon after the minimum sample, not at the end


def test_market_outcomes_and_counts_read_back_what_was_logged(
    monitor: PerformanceMonitor, rollout: GradualRollout, clock: Clock
) -> None:
    rng = np.random.default_rng(0)
    _day(monitor, rollout, clock, START, rng, challenger_confidence=0.8)
    monitor.log_signal(
        "EURUSD", datetime(2017, 10, 3, 0), 1, 0.6, model_version="v-champion", variant="control"
    )
    frame = monitor.market_outcomes(START, START + timedelta(days=1))
    assert len(frame) == 25
    assert frame["status"].tolist().count("pending") == 1
    assert frame["hit"].isna().sum() == 1
    settled = frame[frame["status"] == "settled"]
    assert (settled["hit"] == (settled["signal"] == settled["outcome"])).all()
    [day] = market_daily_counts(frame)
    assert day.races == 24  # the pending signal is not counted
    assert day.hits_1st == int(settled["hit"].sum())
    assert day.positives == int(settled["outcome"].sum())
    brier = float(((settled["probability"] - settled["outcome"]) ** 2).mean())
    metrics = market_health_metrics([day])
    assert metrics["brier_score"] == pytest.approx(brier)
    up = day.positives / 24
    assert metrics["brier_skill"] == pytest.approx(1 - brier / (up * (1 - up)))
    assert metrics["total_signals"] == 24


def test_the_markets_policy_refuses_shadow_mode(monitor: PerformanceMonitor, rollout: GradualRollout) -> None:
    with pytest.raises(ConfigError, match="not available with the markets health policy"):
        run_controller(rollout, monitor, FEATURE, now=datetime(2017, 10, 3, tzinfo=UTC), shadow=("a", "b"))


def test_an_empty_ledger_gives_empty_counts(monitor: PerformanceMonitor) -> None:
    frame = monitor.market_outcomes(START, START)
    assert frame.empty
    assert isinstance(frame, pd.DataFrame)
    assert market_daily_counts(frame) == []


def test_rollout_auto_on_the_cli_judges_signals_with_the_markets_policy(
    monitor: PerformanceMonitor, rollout: GradualRollout, clock: Clock, tmp_path: Path
) -> None:
    import json

    from typer.testing import CliRunner

    from stagewise.cli.main import app

    rng = np.random.default_rng(3)
    days = [START + timedelta(days=i) for i in range(30)]  # about 70 signals at 10 %: past the 50 minimum
    for day in days:
        _day(monitor, rollout, clock, day, rng, challenger_confidence=0.97)
    args = ["rollout", "auto", FEATURE, "--config", str(tmp_path / "rollout_config.json")]
    args += ["--ledger", str(tmp_path / "monitor.db"), "--through", days[-1].isoformat()]
    args += ["--health-window", "60", "--dry-run", "--json"]
    markets = CliRunner().invoke(app, [*args, "--policy", "markets"])
    assert markets.exit_code == 0, markets.output
    decision = json.loads(markets.output)
    assert decision["action"] == "rollback", decision["reasons"]
    # the markets default: a few signals a day at 10 %
    assert decision["numbers"]["policy"]["min_races_per_day"] == 1
    # the races policy (the default) reads race outcomes: this ledger has none, so it cannot judge
    races = CliRunner().invoke(app, args)
    assert races.exit_code == 0, races.output
    assert json.loads(races.output)["action"] == "hold"
    rollout.refresh(force=True)
    assert rollout.feature(FEATURE).stage.name == "10%"  # --dry-run changed nothing


def _promote_in_the_evening(
    monitor: PerformanceMonitor, rollout: GradualRollout, clock: Clock
) -> tuple[date, Decision]:
    """Days of signals from a modest challenger, each judged at 23:30 once the day's signals are logged,
    until the controller promotes; returns the day of the promotion and the decision."""
    rng = np.random.default_rng(3)
    for i in range(40):
        day = START + timedelta(days=i)
        _day(monitor, rollout, clock, day, rng, challenger_confidence=0.52)
        clock.now = datetime.combine(day, time(23, 30), tzinfo=UTC)
        decision = run_controller(
            rollout, monitor, FEATURE, now=clock.now, policy=POLICY, health_window_days=60
        )
        if decision.action == "promote":
            return day, decision
        assert decision.action == "hold", decision.reasons
    raise AssertionError("no promotion in 40 days")


def test_promoted_in_the_evening_the_markets_stage_starts_the_next_day_without_races_in_the_ledger(
    monitor: PerformanceMonitor, rollout: GradualRollout, clock: Clock
) -> None:
    """The day's signals were served at 10 %: the 50 % stage counts from the next day, as for races."""
    assert monitor.race_outcomes(START, START + timedelta(days=60)).empty
    day, promoted = _promote_in_the_evening(monitor, rollout, clock)
    tomorrow = day + timedelta(days=1)
    assert promoted.numbers["stage_effective_from"] == tomorrow.isoformat()
    assert stage_first_day(rollout.audit_log(), FEATURE, "50%") == tomorrow

    _day(monitor, rollout, clock, tomorrow, np.random.default_rng(4), challenger_confidence=0.52)
    clock.now = datetime.combine(tomorrow + timedelta(days=1), time(23, 30), tzinfo=UTC)
    after = run_controller(rollout, monitor, FEATURE, now=clock.now, policy=POLICY, health_window_days=60)
    assert after.numbers["stage_since"] == tomorrow.isoformat()
    # the 10 % day is not judged against the 50 % shares
    assert after.numbers["srm"]["verdict"] != "hold", after.numbers["srm"]
    assert rollout.feature(FEATURE).stage.name == "50%"


def test_races_logged_ahead_in_the_same_ledger_do_not_delay_a_markets_stage(
    monitor: PerformanceMonitor, rollout: GradualRollout, clock: Clock
) -> None:
    """A shared ledger holds next week's race cards (another rollout's, logged ahead): the markets
    rollout's new stage still starts the day after its promotion, not after the last race card."""
    ahead = START + timedelta(days=30)  # within MAX_AHEAD_DAYS of the promotion
    clock.now = datetime(2017, 10, 2, 0, 0, tzinfo=UTC)
    rows = routed_races(rollout, FEATURE, ahead, {"on": 2, "control": 3}, np.random.default_rng(0))
    monitor.log_predictions([{k: v for k, v in r.items() if k != "_result"} for r in rows])
    day, promoted = _promote_in_the_evening(monitor, rollout, clock)
    assert promoted.numbers["stage_effective_from"] == (day + timedelta(days=1)).isoformat()
    for k in range(1, 4):
        _day(
            monitor,
            rollout,
            clock,
            day + timedelta(days=k),
            np.random.default_rng(k),
            challenger_confidence=0.52,
        )
    clock.now = datetime.combine(day + timedelta(days=4), time(23, 30), tzinfo=UTC)
    later = run_controller(
        rollout, monitor, FEATURE, now=clock.now, policy=POLICY, health_window_days=60, dry_run=True
    )
    assert later.numbers["stage_since"] == (day + timedelta(days=1)).isoformat()
    at_stage = [d["date"] for d in later.numbers["days"] if d["at_stage"]]
    assert at_stage == [(day + timedelta(days=k)).isoformat() for k in range(1, 4)]  # judged, not deferred
