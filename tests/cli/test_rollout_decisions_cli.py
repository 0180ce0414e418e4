"""``stagewise rollout decisions FEATURE``: the decision record as a table or JSON, newest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stagewise.cli.main import app
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller_query import ControllerQuery
from stagewise.rollout.controller_runner import run_controller
from stagewise.rollout.outcomes import MemoryOutcomes

runner = CliRunner(env={"COLUMNS": "200"})  # the table must not wrap metric names, whatever the terminal
START = datetime(2026, 11, 1, 5, tzinfo=UTC)


def _ledger(challenger_hits: int) -> MemoryOutcomes:
    ledger = MemoryOutcomes()
    for k in range(7):
        day = START.date() + timedelta(days=k)
        for variant, races, hits in (("on", 50, challenger_hits), ("control", 450, 135)):
            for i in range(races):
                ledger.add_race(
                    f"{day}-{variant}-{i}", day, variant=variant, hit_1st=i < hits, hit_top3=i < hits,
                    score_accuracy=1.0 if i < hits else 0.97,
                )  # fmt: skip
    return ledger


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite rollout store with ``calib`` (promoted, then rolled back) and ``quiet`` (never decided)."""
    url = str(tmp_path / "monitor.db")
    rollout = GradualRollout(db_url=url, now=lambda: START, actor="ops", refresh_interval=0)
    rollout.add_feature("calib", stage="10%", salt="calib:cli")
    rollout.add_feature("quiet", stage="10%", salt="quiet:cli")
    run_controller(rollout, _ledger(15), ControllerQuery("calib", now=START + timedelta(days=7)))
    rollout.update_rollout_stage("calib", "10%", reason="again")
    run_controller(rollout, _ledger(2), ControllerQuery("calib", now=START + timedelta(days=7)))
    rollout.close()
    return url


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["rollout", "decisions", *args])
    return result.exit_code, result.output


def test_the_table_shows_each_decision_newest_first_with_its_metrics(db: str) -> None:
    code, out = run("calib", "--db", db)
    assert code == 0, out
    assert out.index("ROLLBACK at 10% -> disabled") < out.index("PROMOTE at 10% -> 50%")
    assert out.count("hit_rate_1st") == 2
    assert "3150 / 350" in out  # units per arm
    assert "is CRITICAL" in out  # the reason


def test_json_and_limit(db: str) -> None:
    code, out = run("calib", "--db", db, "--json", "--limit", "1")
    assert code == 0, out
    (record,) = json.loads(out)
    assert (record["action"], record["stage_before"], record["stage_after"]) == (
        "rollback",
        "10%",
        "disabled",
    )
    metrics = {m["metric"]: m for m in record["metrics"]}
    assert metrics["hit_rate_1st"]["verdict"] == "harm"
    assert metrics["hit_rate_1st"]["p_value"] < metrics["hit_rate_1st"]["level"] == 0.025


def test_a_feature_without_decisions_says_so(db: str) -> None:
    code, out = run("quiet", "--db", db)
    assert (code, out) == (0, "quiet: no controller decisions recorded yet (dry runs are not recorded).\n")


def test_an_unknown_feature_is_named_with_the_known_ones(db: str) -> None:
    code, out = run("calbi", "--db", db)
    assert code == 1
    assert "Traceback" not in out
    assert out.startswith("NotFoundError: Unknown rollout feature 'calbi'")
    assert "Known features: calib, quiet." in out
