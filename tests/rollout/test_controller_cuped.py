"""CUPED by default: a guardrail uses the ledger's ``covariate`` column when every unit of both arms has one.

Each race has its own chance ``q`` that the champion's pick wins; the server logs the champion's estimate of
it as the race's ``covariate`` (before the result, in both arms). The same races are logged twice: with the
covariate and without it. A declared guardrail that names no covariate is adjusted on the first ledger and
not on the second; the decision goes the same way on both, the adjusted record shows a variance ratio
below 1, and ``stagewise rollout decisions`` prints it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from stagewise.cli.main import app
from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller import Decision
from stagewise.rollout.controller_query import ControllerQuery
from stagewise.rollout.controller_runner import run_controller
from stagewise.rollout.health import RACES_POLICY, load_policy

FEATURE = "probability_calibration"
START = date(2026, 11, 1)
NOW = datetime(2026, 11, 11, 5, 0, tzinfo=UTC)
GUARDRAILS = [{"name": "win", "metric": "win_hit"}, {"name": "score", "metric": "score_accuracy"}]


def _races(rollout: GradualRollout, challenger_factor: float, *, covariate: bool) -> list[dict[str, Any]]:
    """Ten days of 240 races at 50 %; the challenger's pick wins with ``challenger_factor · q``."""
    rng = np.random.default_rng(21)
    rows = []
    for k in range(10):
        day = START + timedelta(days=k)
        for i in range(240):
            race_id = f"{day:%Y%m%d}{i:04d}"
            variant = rollout.variant(FEATURE, race_id)
            q = float(rng.beta(1.83, 5.5))  # mean 0.25, sd 0.15 across races
            estimate = float(np.clip(q + rng.normal(0.0, 0.03), 0.01, 0.99))
            won = rng.random() < q * (challenger_factor if variant == "on" else 1.0)
            order = [int(p) for p in rng.permutation(6) + 1]
            predicted = order if won else [order[1], order[0], *order[2:]]
            row: dict[str, Any] = {
                "race_id": race_id, "race_date": day, "venue_code": 1 + i % 24, "race_number": 1 + i % 12,
                "variant": variant, "model_version": variant,
                "predictions": [{"pit_number": p} for p in predicted],
                "actual_results": [{"pit_number": p, "rank": r} for r, p in enumerate(order, 1)],
            }  # fmt: skip
            if covariate:
                row["covariate"] = estimate
            rows.append(row)
    return rows


def _decide(tmp_path: Path, name: str, challenger_factor: float, *, covariate: bool) -> tuple[Decision, str]:
    db = str(tmp_path / f"{name}.db")
    policy = load_policy({**RACES_POLICY.model_dump(), "guardrails": GUARDRAILS})
    clock = {"now": datetime(2026, 11, 1, 5, tzinfo=UTC)}
    rollout = GradualRollout(
        db_url=db, now=lambda: clock["now"], refresh_interval=0, actor="ops", health_policy=policy
    )
    rollout.add_feature(FEATURE, stage="50%", salt=f"{FEATURE}:cuped", reason="canary")
    monitor = PerformanceMonitor(db, notifiers=[])
    try:
        monitor.log_predictions(_races(rollout, challenger_factor, covariate=covariate))
        clock["now"] = NOW
        decision = run_controller(rollout, monitor, ControllerQuery(FEATURE, now=NOW))
    finally:
        monitor.close()
        rollout.close()
    return decision, db


@pytest.mark.parametrize("factor", [1.0, 0.6], ids=["same-model", "challenger-wins-40%-less"])
def test_the_same_races_with_and_without_the_covariate_decide_alike_and_cuped_shrinks_the_variance(
    tmp_path: Path, factor: float
) -> None:
    with_cov, db = _decide(tmp_path, "with", factor, covariate=True)
    without, _ = _decide(tmp_path, "without", factor, covariate=False)
    assert (with_cov.action == "rollback") == (without.action == "rollback")
    assert with_cov.action == ("rollback" if factor < 1 else "promote")
    adjusted = {r["name"]: r for r in with_cov.numbers["guardrails"]["records"]}
    plain = {r["name"]: r for r in without.numbers["guardrails"]["records"]}
    win = adjusted["win"]
    assert (win["adjusted"], win["covariate"]) == (True, "covariate")
    assert win["variance_ratio"] < 0.95  # the champion's estimate explains part of who wins
    assert (plain["win"]["adjusted"], plain["win"]["covariate"], plain["win"]["variance_ratio"]) == (
        False,
        None,
        None,
    )
    assert plain["win"]["reason"] == ""  # "auto": nothing logged, nothing to complain about
    assert np.sign(win["estimate"]) == np.sign(plain["win"]["estimate"])

    out = CliRunner(env={"COLUMNS": "220"}).invoke(app, ["rollout", "decisions", FEATURE, "--db", db])
    assert out.exit_code == 0, out.output
    assert f"covariate ({win['variance_ratio']:.3f})" in out.output


def test_a_covariate_missing_for_some_races_is_not_used_unless_asked_for(tmp_path: Path) -> None:
    """``auto`` adjusts only on a complete covariate; naming the column says why it was not used."""
    from stagewise.rollout.guardrails import ArmUnits, GuardrailMetric, judge_guardrails

    rng = np.random.default_rng(3)
    days = np.repeat(np.arange("2026-11-01", "2026-11-11", dtype="datetime64[D]"), 100)
    x = rng.random(days.size)
    x[5] = np.nan
    arm = ArmUnits(days, {"hit_1st": (rng.random(days.size) < x).astype(float), "covariate": x})
    auto = GuardrailMetric(name="auto", metric="win_hit")
    named = GuardrailMetric(name="named", metric="win_hit", covariate="covariate")
    off = GuardrailMetric(name="off", metric="win_hit", covariate=None)
    records = {r.name: r for r in judge_guardrails(arm, arm, [auto, named, off]).records}
    assert [records[n].adjusted for n in ("auto", "named", "off")] == [False, False, False]
    assert records["auto"].reason == records["off"].reason == ""
    assert "covariate 'covariate' missing or not finite" in records["named"].reason
