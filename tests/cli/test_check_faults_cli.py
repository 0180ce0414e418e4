"""Faults found by `stagewise check`: each is a failing row with a clear detail and fix, exit status 1,
no traceback, and nothing stored changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from check_deployment import build_deployment, snapshot
from typer.testing import CliRunner

from readonly_support import read_only
from stagewise.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deployment")
    build_deployment(root)
    return root


@pytest.fixture
def workdir(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "deploy"
    shutil.copytree(built, target)
    return target


def failing(workdir: Path, *args: str) -> dict[str, dict[str, Any]]:
    """Run a check that must fail; return its rows by name, after asserting exit 1 and no traceback."""
    result = runner.invoke(app, ["check", *args, "--workdir", str(workdir), "--json"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False
    return {r["name"]: r for r in document["results"]}


def only_failure(found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    bad = [r for r in found.values() if not r["ok"]]
    assert len(bad) == 1, bad
    return bad[0]


def test_a_corrupt_database_is_named_and_left_as_it_was(workdir: Path) -> None:
    ledger = workdir / "data" / "monitor.db"
    ledger.write_bytes(b"this is not SQLite" * 100)
    before = snapshot(workdir)
    row = only_failure(failing(workdir, "validate"))
    assert row["name"] == "monitor db"
    assert "not a SQLite database" in row["detail"]
    assert "restore it from a backup" in row["fix"]
    assert snapshot(workdir) == before


def test_a_mistyped_database_url_says_to_correct_db_not_to_restore_a_backup(workdir: Path) -> None:
    row = only_failure(failing(workdir, "validate", "--db", "notaurl://x"))
    assert row["name"] == "monitor db"
    assert "is not a database URL stagewise can open" in row["detail"]
    assert "correct --db" in row["fix"]


def test_a_truncated_database_is_named(workdir: Path) -> None:
    ledger = workdir / "data" / "monitor.db"
    ledger.write_bytes(ledger.read_bytes()[:5000])
    before = snapshot(workdir)
    row = failing(workdir, "validate")["monitor db"]
    assert not row["ok"]
    assert str(ledger) in row["detail"]
    assert "restore it from a backup" in row["fix"]
    assert snapshot(workdir) == before


def test_a_missing_database_is_reported_and_not_created(workdir: Path) -> None:
    (workdir / "data" / "monitor.db").unlink()
    row = only_failure(failing(workdir, "validate"))
    assert row["name"] == "monitor db"
    assert "does not exist" in row["detail"]
    assert "log predictions first" in row["fix"]
    assert not (workdir / "data" / "monitor.db").exists()
    result = runner.invoke(app, ["check", "status", "--workdir", str(workdir)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "no monitor ledger" in result.output
    assert not (workdir / "data" / "monitor.db").exists()


def test_a_missing_model_registry_fails_the_model_checks(workdir: Path) -> None:
    shutil.rmtree(workdir / "models")
    found = failing(workdir, "ml-models", "--dry-run")
    assert "does not exist" in found["registry state"]["detail"]
    assert "stagewise train --domain races --root" in found["registry state"]["fix"]
    assert not found["production model"]["ok"]
    assert not (workdir / "models").exists()


def test_a_registry_without_production_says_to_promote(workdir: Path) -> None:
    (workdir / "models" / "registry.json").unlink()
    shutil.rmtree(workdir / "models" / "production")
    row = only_failure(failing(workdir, "validate"))
    assert row["name"] == "model versions"
    assert "none is in production" in row["detail"]
    assert "stagewise models promote latest" in row["fix"]


def test_a_corrupt_registry_file_is_named_and_kept(workdir: Path) -> None:
    state = workdir / "models" / "registry.json"
    state.write_text("{ half a registry", encoding="utf-8")
    before = snapshot(workdir)
    row = only_failure(failing(workdir, "validate"))
    assert row["name"] == "registry state"
    assert "registry.json" in row["detail"]
    assert "not valid JSON" in row["detail"]
    assert "restore" in row["fix"]
    assert "registry.json" in row["fix"]
    assert snapshot(workdir) == before


def test_a_changed_model_file_fails_the_hashes_and_the_production_model(workdir: Path) -> None:
    changed = next((workdir / "models" / "training").glob("*/lightgbm_model.txt"))
    changed.write_bytes(changed.read_bytes().replace(b"tree", b"TREE", 1))
    before = snapshot(workdir)
    found = failing(workdir, "ml-models", "--dry-run")
    assert not found["registry hashes"]["ok"]
    assert "lightgbm_model.txt" in found["registry hashes"]["detail"]
    assert "never serve a changed file" in found["registry hashes"]["fix"]
    assert snapshot(workdir) == before


def test_a_corrupt_rollout_config_is_named(workdir: Path) -> None:
    (workdir / "config" / "rollout_config.json").write_text("{ not json", encoding="utf-8")
    row = only_failure(failing(workdir, "validate"))
    assert row["name"] == "rollout config"
    assert "not valid JSON" in row["detail"]
    assert "docs/rollout.md" in row["fix"]


def test_an_edited_audit_log_breaks_the_chain(workdir: Path) -> None:
    audit = workdir / "config" / "rollout_audit.jsonl"
    audit.write_text(
        audit.read_text(encoding="utf-8").replace("first look", "another reason"), encoding="utf-8"
    )
    row = only_failure(failing(workdir, "validate"))
    assert row["name"] == "rollout audit log"
    assert "restore it from a backup" in row["fix"]
    result = runner.invoke(app, ["check", "status", "--workdir", str(workdir)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "audit chain BROKEN" in result.output


def test_a_read_only_deployment_cannot_pass(workdir: Path) -> None:
    before = snapshot(workdir)
    with read_only(workdir) as done:
        if not done:
            pytest.skip("cannot make a read-only directory here (root without the right to mount)")
        found = failing(workdir, "validate")
    row = found["model registry writable"]
    assert not row["ok"]
    assert "read-only" in row["detail"]
    assert "writable" in row["fix"]
    assert found["registry hashes"]["ok"]  # reading still works
    assert snapshot(workdir) == before


def test_a_bad_mode_is_a_usage_error(workdir: Path) -> None:
    result = runner.invoke(app, ["check", "validate", "--mode", "heavy", "--workdir", str(workdir)])
    assert result.exit_code == 2
    assert "light" in result.output


def test_a_critical_alert_fails_full_check_but_not_validate(workdir: Path) -> None:
    from check_deployment import LAST_DAY

    from stagewise.monitor import PerformanceMonitor
    from stagewise.monitor.alert_config import AlertConfig, AlertRule, DomainRules

    rule = AlertRule(
        alert_type="LOW_RACE_COUNT", metric="total_races", threshold=100, min_samples=0, severity="critical"
    )
    rules = AlertConfig(domains={"races": DomainRules(rules=(rule,))})
    with PerformanceMonitor(
        str(workdir / "data" / "monitor.db"), notifiers=[], alert_config=rules
    ) as monitor:
        assert monitor.check_alerts(LAST_DAY)
    assert runner.invoke(app, ["check", "validate", "--workdir", str(workdir)]).exit_code == 0
    before = snapshot(workdir)
    result = runner.invoke(app, ["check", "full-check", "--workdir", str(workdir)], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    summary = result.output[result.output.index("Summary: the six stages") :]
    monitor_row = next(line for line in summary.splitlines() if " monitor " in line)
    assert "FAIL" in monitor_row
    assert "2/3" in monitor_row
    assert "stagewise monitor alerts" in summary
    assert "1 failed" in result.output
    status = runner.invoke(app, ["check", "status", "--workdir", str(workdir)], env={"COLUMNS": "200"})
    assert "[critical] LOW_RACE_COUNT" in status.output
    assert snapshot(workdir) == before
