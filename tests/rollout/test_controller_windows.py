"""The health window widens until it holds the policy's minimum sample, so a small stage can advance.

At the demo's volume (138 races a day) a 10 % stage gets 13-14 challenger races a day: a week
holds fewer than the seed table's 100 races, so a fixed 7-day window never gave a verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from routed_races_support import routed_races

from stagewise import ConfigError
from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller_runner import MAX_HEALTH_WINDOW_DAYS, run_controller

FEATURE = "probability_calibration"
START = date(2026, 11, 1)
MORNING_AFTER = datetime(2026, 11, 11, 6, tzinfo=UTC)  # after ten days of races


@pytest.fixture
def rollout(tmp_path: Path) -> GradualRollout:
    opened = datetime(2026, 11, 1, 6, tzinfo=UTC)
    r = GradualRollout(tmp_path / "rollout_config.json", now=lambda: opened, refresh_interval=0, actor="ops")
    r.add_feature(FEATURE, stage="10%", reason="start canary")
    return r


@pytest.fixture
def monitor(tmp_path: Path, rollout: GradualRollout) -> Iterator[PerformanceMonitor]:
    """Ten days of 138 races: exactly 13 challenger races a day (91 a week, 104 in eight days)."""
    rng = np.random.default_rng(5)
    rows: list[dict[str, Any]] = []
    for k in range(10):
        day = START + timedelta(days=k)
        for row in routed_races(rollout, FEATURE, day, {"on": 13, "control": 125}, rng):
            row["actual_results"] = row.pop("_result")
            rows.append(row)
    m = PerformanceMonitor(monitor_db=tmp_path / "monitor.db", notifiers=[])
    m.log_predictions(rows)
    yield m
    m.close()


def test_at_ten_percent_of_the_demo_volume_the_window_widens_and_the_stage_advances(
    rollout: GradualRollout, monitor: PerformanceMonitor
) -> None:
    decision = run_controller(rollout, monitor, FEATURE, now=MORNING_AFTER, dry_run=True)
    assert (decision.action, decision.to_stage) == ("promote", "50%"), decision.reasons
    days = {d["date"]: d for d in decision.numbers["days"]}
    assert days["2026-11-07"]["health"] == "INSUFFICIENT_DATA"  # the whole stage so far: 91 races
    assert days["2026-11-07"]["health_window"] == {"days": 7, "sample": 91}
    for day in ("2026-11-08", "2026-11-09", "2026-11-10"):
        assert days[day]["health"] == "HEALTHY"
        assert days[day]["health_window"] == {"days": 8, "sample": 104}
    assert decision.numbers["max_health_window_days"] == MAX_HEALTH_WINDOW_DAYS


def test_a_fixed_week_never_holds_the_minimum_at_this_volume(
    rollout: GradualRollout, monitor: PerformanceMonitor
) -> None:
    fixed = run_controller(
        rollout, monitor, FEATURE, now=MORNING_AFTER, dry_run=True, max_health_window_days=7
    )
    assert fixed.action == "hold"
    assert {d["health"] for d in fixed.numbers["days"]} == {"INSUFFICIENT_DATA"}
    assert {d["health_window"]["sample"] for d in fixed.numbers["days"][6:]} == {91}


@pytest.mark.parametrize("widest", [6, 0, True, 7.5], ids=["below-window", "zero", "bool", "float"])
def test_a_widest_window_below_the_window_is_refused(
    rollout: GradualRollout, monitor: PerformanceMonitor, widest: Any
) -> None:
    with pytest.raises(
        ConfigError, match=r"'max_health_window_days' must be an int >= health_window_days \(7\)"
    ):
        run_controller(
            rollout, monitor, FEATURE, now=MORNING_AFTER, dry_run=True, max_health_window_days=widest
        )
