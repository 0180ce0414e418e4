"""Which days the controller judges: complete days only, and each stage from its first whole day.

The clock is injected into the rollout, the ledger and the controller, so a run "in the
evening" or "the next morning" is the same code a cron job would run at that hour.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from routed_races_support import routed_races

from stagewise import ConfigError
from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller_runner import run_controller, stage_first_day, stage_start

FEATURE = "probability_calibration"
JST = timezone(timedelta(hours=9))
START = date(2026, 11, 1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.combine(START, time(6, 0), JST)

    def __call__(self) -> datetime:
        return self.now

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        self.now = datetime.combine(day, time(hour, minute), JST)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rollout(tmp_path: Path, clock: Clock) -> GradualRollout:
    r = GradualRollout(
        tmp_path / "config" / "rollout_config.json", now=clock, refresh_interval=0, actor="ops"
    )
    r.add_feature(FEATURE, stage="10%", reason="start canary")
    return r


@pytest.fixture
def monitor(tmp_path: Path, clock: Clock) -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(monitor_db=tmp_path / "data" / "monitor.db", clock=clock, notifiers=[])
    yield m
    m.close()


def day_races(
    rollout: GradualRollout, day: date, groups: dict[str, int], *, seed: int = 0
) -> list[dict[str, Any]]:
    return routed_races(rollout, FEATURE, day, groups, np.random.default_rng(seed + day.toordinal()))


def live_day(
    monitor: PerformanceMonitor, clock: Clock, rows: list[dict[str, Any]], *, settle: int | None = None
) -> None:
    """Predictions at 09:00 (pending), results at 20:30 (the first ``settle`` races; default all)."""
    day = date.fromisoformat(rows[0]["race_date"])
    clock.at(day, 9)
    monitor.log_predictions([{k: v for k, v in r.items() if k != "_result"} for r in rows])
    clock.at(day, 20, 30)
    settled = rows if settle is None else rows[:settle]
    if settled:
        monitor.log_results([(r["race_id"], r["_result"]) for r in settled])


def test_promoted_in_the_evening_the_new_stage_starts_the_next_day_and_no_false_srm_hold(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock
) -> None:
    for k in range(9):
        live_day(monitor, clock, day_races(rollout, START + timedelta(days=k), {"on": 20, "control": 180}))
    evening = clock.at(date(2026, 11, 9), 21)  # the day's races are over, its results are in
    promoted = run_controller(rollout, monitor, FEATURE, now=evening)
    assert (promoted.action, promoted.to_stage) == ("promote", "50%")
    # today's races were served at 10 %: the 50 % stage starts tomorrow
    assert promoted.numbers["stage_effective_from"] == "2026-11-10"
    assert rollout.audit_log()[-1]["details"]["effective_from"] == "2026-11-10"
    assert stage_start(rollout.audit_log(), FEATURE, "50%") == date(2026, 11, 9)
    assert stage_first_day(rollout.audit_log(), FEATURE, "50%") == date(2026, 11, 10)

    live_day(monitor, clock, day_races(rollout, date(2026, 11, 10), {"on": 100, "control": 100}))
    first_evening = run_controller(rollout, monitor, FEATURE, now=clock.at(date(2026, 11, 10), 21))
    assert first_evening.action == "hold"
    assert not any("sample-ratio" in r for r in first_evening.reasons), first_evening.reasons
    assert first_evening.numbers["srm"]["verdict"] != "hold"
    assert first_evening.numbers["stage_since"] == "2026-11-10"

    live_day(monitor, clock, day_races(rollout, date(2026, 11, 11), {"on": 100, "control": 100}))
    second_evening = run_controller(rollout, monitor, FEATURE, now=clock.at(date(2026, 11, 11), 21))
    assert second_evening.numbers["srm"]["verdict"] == "ok"
    assert second_evening.numbers["srm"]["counts"] == {"on": 100, "control": 100}
    assert rollout.feature(FEATURE).stage.name == "50%"


def test_promoted_in_the_morning_the_stage_starts_that_day(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock
) -> None:
    for k in range(9):
        live_day(monitor, clock, day_races(rollout, START + timedelta(days=k), {"on": 20, "control": 180}))
    morning = clock.at(date(2026, 11, 10), 6)  # before the day's first prediction
    promoted = run_controller(rollout, monitor, FEATURE, now=morning)
    assert promoted.action == "promote"
    assert promoted.numbers["stage_effective_from"] == "2026-11-10"
    assert stage_first_day(rollout.audit_log(), FEATURE, "50%") == date(2026, 11, 10)


def test_a_day_with_results_still_pending_is_not_judged_until_they_are_in(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock
) -> None:
    for k in range(8):
        live_day(monitor, clock, day_races(rollout, START + timedelta(days=k), {"on": 20, "control": 180}))
    late = day_races(rollout, date(2026, 11, 9), {"on": 20, "control": 180})
    live_day(monitor, clock, late, settle=150)  # 50 results of the 9th are not in yet
    morning = clock.at(date(2026, 11, 10), 6)
    early = run_controller(rollout, monitor, FEATURE, now=morning, dry_run=True)
    assert early.numbers["pending_days"] == ["2026-11-09"]
    assert early.numbers["days"][-1]["date"] == "2026-11-08"
    assert sum(early.numbers["srm"]["counts"].values()) == 8 * 200  # no pending prediction counted
    assert early.numbers["cumulative"]["challenger"]["races"] == 8 * 20

    monitor.log_results([(r["race_id"], r["_result"]) for r in late[150:]])
    settled = run_controller(rollout, monitor, FEATURE, now=clock.at(date(2026, 11, 10), 7), dry_run=True)
    assert settled.numbers["pending_days"] == []
    assert settled.numbers["days"][-1]["date"] == "2026-11-09"
    assert sum(settled.numbers["srm"]["counts"].values()) == 9 * 200


def test_an_evening_run_reading_today_skips_today_while_its_results_are_pending(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock
) -> None:
    for k in range(8):
        live_day(monitor, clock, day_races(rollout, START + timedelta(days=k), {"on": 20, "control": 180}))
    today = date(2026, 11, 9)
    live_day(monitor, clock, day_races(rollout, today, {"on": 20, "control": 180}), settle=0)
    decision = run_controller(rollout, monitor, FEATURE, now=clock.at(today, 18), through=today, dry_run=True)
    assert decision.numbers["pending_days"] == ["2026-11-09"]
    assert sum(decision.numbers["srm"]["counts"].values()) == 8 * 200
    assert decision.numbers["srm"]["verdict"] == "ok"


@pytest.mark.parametrize("bad", ["soon", 20261110, "2026-13-01"])
def test_a_stage_move_with_a_bad_effective_from_is_refused_and_nothing_is_stored(
    rollout: GradualRollout, bad: Any
) -> None:
    before = rollout.audit_log()
    with pytest.raises(ConfigError, match=r"details\['effective_from'\] must be a date 'YYYY-MM-DD'"):
        rollout.update_rollout_stage(FEATURE, "50%", reason="by hand", details={"effective_from": bad})
    assert rollout.audit_log() == before
    assert rollout.feature(FEATURE).stage.name == "10%"


def test_a_races_stage_is_not_dated_by_market_signals_in_the_same_ledger(
    rollout: GradualRollout, monitor: PerformanceMonitor, clock: Clock
) -> None:
    """Signals of a markets rollout logged today (and ahead) in a shared ledger say nothing of when
    this rollout's races were served: promoted before the day's first race, it starts that day."""
    for k in range(9):
        live_day(monitor, clock, day_races(rollout, START + timedelta(days=k), {"on": 20, "control": 180}))
    morning = clock.at(date(2026, 11, 10), 6)
    for day in (date(2026, 11, 10), date(2026, 11, 12)):
        monitor.log_signal(
            "EURUSD", datetime.combine(day, time(0, 0)), 1, 0.6, model_version="m", variant="on"
        )
    promoted = run_controller(rollout, monitor, FEATURE, now=morning)
    assert promoted.action == "promote"
    assert promoted.numbers["stage_effective_from"] == "2026-11-10"
