"""Roll a feature out with the seed's calls, then let the controller roll a bad challenger back.

What it teaches
---------------
* The seed's ``config/rollout_config.json`` loads unchanged, and its features keep the seed's MD5
  buckets: at 10 % race ids 0-99 enable 13 races, at 50 % 52 (the seed's own test output).
* ``update_rollout_stage``, ``check_rollout_health`` (HEALTHY / WARNING / CRITICAL with the seed's
  table and action), ``rollout_plan`` and ``get_rollout_status`` keep the seed's shapes; every change
  is in a hash-chained audit log (``verify_audit``).
* New features are salted (independent cohorts). ``variant(feature, race_id)`` routes each race to
  ``"on"`` or ``"control"``; logging that label in the ledger lets ``run_controller`` compare the groups
  and promote, hold or roll back by itself, as ``stagewise rollout auto`` does each morning.

Run it::

    .venv/bin/python examples/04_rollout_and_decide.py [WORKDIR]

Writes WORKDIR/config/rollout_config.json, its audit log and WORKDIR/data/monitor.db (default
WORKDIR: a new temporary directory). A few seconds.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import numpy as np

from stagewise import GradualRollout, PerformanceMonitor, simulate_races
from stagewise.data import race_results
from stagewise.rollout.controller_runner import run_controller

# The seed's sample config (seed 000, 設定ファイル), as its users have it on disk.
SEED_CONFIG = {
    "feature_rollouts": {
        "dynamic_integration": {"stage": "100%", "enabled_at": "2025-11-01"},
        "entry_prediction_model": {"stage": "100%", "enabled_at": "2025-11-15"},
        "probability_calibration": {"stage": "disabled", "enabled_at": None},
    },
    "updated_at": "2025-12-02 16:12:02",
}


def main(workdir: Path) -> None:
    config = workdir / "config" / "rollout_config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(SEED_CONFIG, ensure_ascii=False, indent=2), encoding="utf-8")

    clock = [datetime(2025, 11, 17, 8, 0, tzinfo=UTC)]  # simulated time, moved by hand below
    rollout = GradualRollout(config, now=lambda: clock[0], actor="example")
    for stage in ("10%", "50%"):
        rollout.update_rollout_stage("probability_calibration", stage, reason="example")
        enabled = sum(rollout.should_enable_feature("probability_calibration", i) for i in range(100))
        print(f"probability_calibration at {stage}: {enabled}/100 races enabled")

    health = rollout.check_rollout_health(
        "probability_calibration",
        {"hit_rate_1st": 0.25, "hit_rate_top3": 0.10, "avg_score_accuracy": 0.70, "error_rate": 0.02},
    )
    print(f"health: {health['status']} -> {health['action']}")
    plan = rollout.rollout_plan("probability_calibration")
    print("plan: " + " -> ".join(stage["stage"] for stage in plan["stages"]))

    # A challenger that orders the boats at random, against lane order 1-2-3-4-5-6, at 50 %.
    feature = "random_order"
    rollout.add_feature(feature, "50%", salt=f"{feature}:example", reason="try a new ranking")
    monitor = PerformanceMonitor(
        monitor_db=workdir / "data" / "monitor.db", notifiers=[], clock=lambda: clock[0]
    )
    rng = np.random.default_rng(0)
    races = simulate_races("2025-11-17", "2025-11-20", seed=2)
    for day_value, day_races in races.groupby("race_date", sort=True):
        day = day_value.date()
        rows = []
        for race_id, race in day_races.groupby("race_id", sort=False):
            variant = rollout.variant(feature, race_id)  # "on" or "control", the same on every host
            order = [int(p) for p in rng.permutation(6) + 1] if variant == "on" else [1, 2, 3, 4, 5, 6]
            rows.append(
                {
                    "race_id": race_id,
                    "race_date": day.isoformat(),
                    "venue_code": int(race["venue_code"].iloc[0]),
                    "race_number": int(race["race_number"].iloc[0]),
                    "predictions": order,  # pits, best first
                    "model_version": "random" if variant == "on" else "lane-order",
                    "variant": variant,
                }
            )
        monitor.log_predictions(rows)  # before the races
        results = race_results(day_races)
        monitor.log_results([(row["race_id"], results[row["race_id"]]) for row in rows])  # after them

        clock[0] = datetime.combine(day + timedelta(days=1), time(6, 0), tzinfo=UTC)  # the next morning
        decision = run_controller(rollout, monitor, feature, now=clock[0])
        print(f"{day}: {decision.action} ({decision.from_stage} -> {decision.to_stage})")
        if decision.action == "rollback":
            print("  because: " + "; ".join(decision.reasons))
            break

    stage = rollout.get_rollout_status()["feature_rollouts"][feature]["stage"]
    last = rollout.audit_log()[-1]
    print(f"{feature} is now {stage}; last audit entry by {last['actor']}: {last['action']}")
    print(f"audit chain verified: {rollout.verify_audit().ok}")
    monitor.close()
    rollout.close()


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="stagewise-example-"))
    main(target)
