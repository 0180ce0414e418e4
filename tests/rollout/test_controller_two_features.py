"""Two rollouts at once on one ledger: each controller reads only the races its own feature routed.

Both features label their races ``on`` / ``control``; the ledger's ``rollout_feature`` column is the
only thing that tells them apart. Feature ``bad_model``'s challenger is harmful, ``good_model``'s is
as good as control: read together, the good one would be rolled back for the other's harm.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from routed_races_support import Clock

from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller_query import ControllerQuery
from stagewise.rollout.controller_runner import run_controller

START = date(2026, 11, 2)
WIN = {("bad_model", "on"): 0.08, ("good_model", "on"): 0.40}  # control wins 40 % under both


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 2, 5, tzinfo=UTC))


@pytest.fixture
def monitor(tmp_path: Path, clock: Clock) -> Iterator[PerformanceMonitor]:
    with PerformanceMonitor(str(tmp_path / "monitor.db")) as m:
        yield m


def _race(
    feature: str, variant: str, race_id: str, day: date, k: int, rng: np.random.Generator
) -> dict[str, Any]:
    order = [int(p) for p in rng.permutation(6) + 1]
    won = rng.random() < WIN.get((feature, variant), 0.40)
    predicted = order if won else [order[1], order[0], *order[2:]]
    return {
        "race_id": race_id, "race_date": day.isoformat(), "venue_code": k % 24 + 1, "race_number": k % 12 + 1,
        "variant": variant, "rollout_feature": feature, "predictions": [{"pit_number": p} for p in predicted],
        "actual_results": [{"pit_number": p, "rank": r} for r, p in enumerate(order, 1)],
    }  # fmt: skip


def test_two_concurrent_rollouts_never_mix(tmp_path: Path, clock: Clock, monitor: PerformanceMonitor) -> None:
    rollout = GradualRollout(tmp_path / "rollout.json", now=clock, refresh_interval=0, actor="ops")
    for feature in ("bad_model", "good_model"):
        rollout.add_feature(feature, stage="50%", salt=f"{feature}:two", reason="canary")
    rng = np.random.default_rng(11)
    decisions: dict[str, list[str]] = {"bad_model": [], "good_model": []}
    for d in range(6):
        day = START + timedelta(days=d)
        rows = []
        for k in range(400):  # interleaved: even races routed by one feature, odd ones by the other
            feature = ("bad_model", "good_model")[k % 2]
            race_id = f"{day:%Y%m%d}{k:04d}"
            rows.append(_race(feature, rollout.variant(feature, race_id), race_id, day, k, rng))
        monitor.log_predictions(rows)
        clock.now = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=5)
        for feature in decisions:
            decision = run_controller(rollout, monitor, ControllerQuery(feature, now=clock.now, dry_run=True))
            decisions[feature].append(decision.action)
            if d == 0:  # the sample-ratio check counts only the feature's own races
                assert sum(decision.numbers["srm"]["counts"].values()) == 200
    assert "rollback" in decisions["bad_model"]
    assert "rollback" not in decisions["good_model"], decisions
    # the ledger read whole (no feature) mixes them: the good feature's cohort takes the bad one's harm
    mixed = monitor.race_outcomes(START, START + timedelta(days=5), variant="on")
    assert set(mixed["rollout_feature"]) == {"bad_model", "good_model"}
    own = monitor.race_outcomes(START, START + timedelta(days=5), variant="on", rollout_feature="good_model")
    assert set(own["rollout_feature"]) == {"good_model"}
    assert own["hit_1st"].mean() > mixed["hit_1st"].mean() + 0.1
