"""``stagewise rollout``: each command end to end on a real config file (and one on SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stagewise.cli.main import app

runner = CliRunner()

SEED_CONFIG = (
    '{"feature_rollouts": {"dynamic_integration": {"stage": "100%", "enabled_at": "2025-11-01"},'
    ' "entry_prediction_model": {"stage": "100%", "enabled_at": "2025-11-15"},'
    ' "probability_calibration": {"stage": "disabled", "enabled_at": null}},'
    ' "updated_at": "2025-12-02 16:12:02"}'
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config" / "rollout_config.json"
    path.parent.mkdir()
    path.write_text(SEED_CONFIG)
    return path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["rollout", *args])
    return result.exit_code, result.output


def test_set_status_and_audit(config: Path) -> None:
    code, out = run(
        "set",
        "probability_calibration",
        "10%",
        "--reason",
        "canary",
        "--actor",
        "alice",
        "--config",
        str(config),
    )
    assert code == 0, out
    assert "probability_calibration: disabled -> 10%" in out
    code, out = run("status", "--config", str(config), "--json")
    status = json.loads(out)
    assert status["feature_rollouts"]["probability_calibration"]["stage"] == "10%"
    code, out = run("audit", "--config", str(config))
    assert "alice: set_stage probability_calibration disabled -> 10%  (canary)" in out
    code, out = run("audit", "--verify", "--config", str(config))
    assert code == 0
    assert "audit log OK: 1 entries" in out


def test_set_refuses_a_bad_stage_with_one_line_and_keeps_the_file(config: Path) -> None:
    for bad in ("37", "ten", "-5%", "150%"):
        code, out = run("set", "probability_calibration", bad, "--reason", "x", "--config", str(config))
        assert code != 0
        assert "Traceback" not in out
    code, out = run("set", "probability_calibration", "150%", "--reason", "x", "--config", str(config))
    assert code == 1
    assert out.startswith("ConfigError: The rollout STAGE must be 'disabled' or a percentage")
    assert config.read_text() == SEED_CONFIG


def test_unknown_feature_and_create(config: Path) -> None:
    code, out = run("set", "calib_v2", "10%", "--reason", "x", "--config", str(config))
    assert code == 1
    assert "NotFoundError: Unknown rollout feature 'calib_v2' in " in out
    assert "Known features: dynamic_integration, entry_prediction_model, probability_calibration." in out
    assert "Pass --create to create it." in out
    code, out = run(
        "set",
        "calib_v2",
        "12.5%",
        "--reason",
        "new model",
        "--create",
        "--salt",
        "c2",
        "--config",
        str(config),
    )
    assert code == 0, out
    assert "created at 12.5% (blake2b-64, salt 'c2')" in out
    code, out = run("check", "calib_v2", "1", "2", "race-3", "--config", str(config))
    assert code == 0
    assert len(out.strip().splitlines()) == 3
    assert "(blake2b-64) at 12.5%" in out


def test_kill_one_and_all(config: Path) -> None:
    code, out = run("kill", "--reason", "x", "--config", str(config))
    assert code == 1
    assert "either a FEATURE or --all" in out
    code, out = run("kill", "dynamic_integration", "--reason", "bad feed", "--config", str(config))
    assert out.strip() == "killed: dynamic_integration"
    code, out = run("kill", "--all", "--reason", "incident 7", "--config", str(config))
    assert code == 0
    assert "entry_prediction_model" in out
    stages = {f["stage"] for f in json.loads(config.read_text())["feature_rollouts"].values()}
    assert stages == {"disabled"}
    code, out = run("status", "--config", str(config))
    assert "incident 7" in out


def test_plan_in_japanese(config: Path) -> None:
    code, out = run("plan", "probability_calibration", "--lang", "ja", "--config", str(config))
    assert code == 0, out
    assert "10%のレースで試験運用" in out
    assert "hit_rate_1st (1着的中率) < 15.00%" in out


def test_health_from_options_and_json(config: Path, tmp_path: Path) -> None:
    args = ["health", "probability_calibration", "--config", str(config)]
    code, out = run(
        *args,
        "--hit-rate-1st",
        "0.25",
        "--hit-rate-top3",
        "0.10",
        "--score-accuracy",
        "0.70",
        "--races",
        "300",
    )
    assert code == 0, out
    assert out.startswith("probability_calibration: HEALTHY -> PROCEED_TO_NEXT_STAGE")
    metrics = tmp_path / "m.json"
    metrics.write_text(
        json.dumps(
            {"hit_rate_1st": 0.12, "hit_rate_top3": 0.06, "avg_score_accuracy": 0.7, "error_rate": 0.0}
        )
    )
    code, out = run(*args, "--from-json", str(metrics), "--fail-on", "critical")
    assert code == 3
    assert "CRITICAL -> ROLLBACK" in out
    assert "issue: win hit rate 12.00% < 15.00% (CRITICAL)" in out
    code, out = run(*args, "--hit-rate-1st", "0.25")
    assert code == 1
    assert "Give --hit-rate-top3, --score-accuracy or --from-json." in out


def test_health_critical_rule_flag(config: Path) -> None:
    args = ["health", "probability_calibration", "--config", str(config), "--hit-rate-1st", "0.25"]
    noisy_week = [*args, "--hit-rate-top3", "0.0357", "--score-accuracy", "0.70", "--races", "112"]
    code, out = run(*noisy_week, "--fail-on", "critical")
    assert code == 0, out
    assert out.startswith("probability_calibration: WARNING -> CONTINUE_MONITORING")
    assert "95 % upper bound over 112 total_races is 8.8" in out
    code, out = run(*noisy_week, "--critical-rule", "point", "--fail-on", "critical")
    assert code == 3
    assert "issue: trifecta hit rate 3.57% < 5.00% (CRITICAL)" in out
    code, out = run(*noisy_week, "--critical-rule", "sometimes")
    assert code == 1
    assert "ConfigError: The 'critical_rule' (--critical-rule) must be 'point' or 'upper_bound'." in out


def test_audit_verify_fails_after_tampering(config: Path) -> None:
    for stage in ("10%", "50%"):
        run("set", "probability_calibration", stage, "--reason", "ramp", "--config", str(config))
    log = config.parent / "rollout_audit.jsonl"
    log.write_text(log.read_text().replace('"reason":"ramp"', '"reason":"rmap"', 1))
    code, out = run("audit", "--verify", "--config", str(config))
    assert code == 1
    assert "TAMPERED" in out
    assert "hash mismatch" in out


def test_broken_config_is_reported_not_traced(tmp_path: Path) -> None:
    path = tmp_path / "rollout_config.json"
    path.write_text("{not json")
    code, out = run("status", "--config", str(path))
    assert code == 1
    assert out.startswith("ConfigError: The rollout config")
    assert path.read_text() == "{not json"


def test_sql_store_through_db(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    code, out = run("add", "new_model", "--stage", "10%", "--salt", "nm", "--db", url)
    assert code == 0, out
    code, out = run("set", "new_model", "50%", "--reason", "healthy week", "--db", url)
    assert "10% -> 50%" in out
    code, out = run("audit", "--verify", "--db", url, "--json")
    assert json.loads(out)["entries"] == 2


def test_variants_command(config: Path) -> None:
    run("set", "calib_v2", "100%", "--reason", "x", "--create", "--salt", "c2", "--config", str(config))
    code, out = run(
        "variants", "calib_v2", "iso=0.5", "platt=0.5", "--reason", "two", "--config", str(config)
    )
    assert code == 0, out
    assert out.strip() == "calib_v2: variants iso=0.5, platt=0.5 at 100%"
    code, out = run("check", "calib_v2", *[str(i) for i in range(20)], "--config", str(config))
    assert {line.rsplit(": ", 1)[1] for line in out.strip().splitlines()} == {"iso", "platt"}
    code, out = run("variants", "calib_v2", "iso=half", "--reason", "x", "--config", str(config))
    assert code == 1
    assert "NAME=WEIGHT" in out
    code, out = run("variants", "calib_v2", "iso=0.6", "platt=0.6", "--reason", "x", "--config", str(config))
    assert code == 1
    assert "sum to 1" in out
    code, out = run("variants", "calib_v2", "--clear", "--reason", "done", "--config", str(config))
    assert out.strip() == "calib_v2: variants none at 100%"
