"""The check library's parts: targets, the guard, ledger inspection that never writes, health of alerts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stagewise import ConfigError, StorageError
from stagewise.check import CheckResult, CheckTargets, all_ok, guarded, validate
from stagewise.check.environment import storage_checks
from stagewise.check.state import inspect_database, ledger_checks, open_alerts_check
from stagewise.monitor import PerformanceMonitor
from stagewise.monitor.alert_config import AlertConfig, AlertRule, DomainRules
from stagewise.monitor.store import sqlite_path


def test_targets_follow_the_other_commands_defaults_inside_the_workdir(tmp_path: Path) -> None:
    t = CheckTargets.under(tmp_path)
    assert t.models == tmp_path / "models"
    assert t.db == str(tmp_path / "data" / "monitor.db")
    assert t.config == str(tmp_path / "config" / "rollout_config.json")
    assert t.data == tmp_path / "data" / "races.parquet"
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    t = CheckTargets.under(tmp_path, db=url, config=url, models="elsewhere")
    assert t.models == Path("elsewhere")
    assert t.writable_places() == {"model registry": Path("elsewhere")}  # servers are not folders


@pytest.mark.parametrize(
    ("db", "expected"),
    [
        ("data/monitor.db", Path("data/monitor.db")),
        ("sqlite:///data/monitor.db", Path("data/monitor.db")),
        ("sqlite:////abs/monitor.db", Path("/abs/monitor.db")),
        ("sqlite:///:memory:", None),
        ("postgresql+psycopg://postgres@127.0.0.1/test", None),
    ],
    ids=["path", "relative-url", "absolute-url", "memory", "postgres"],
)
def test_sqlite_path(db: str, expected: Path | None) -> None:
    assert sqlite_path(db) == expected


def test_guard_turns_every_exception_into_a_failing_row() -> None:
    def user_error() -> CheckResult:
        raise StorageError("the disk is full")

    def bug() -> CheckResult:
        raise RuntimeError("boom")

    row = guarded("x", "free space", user_error)
    assert (row.ok, row.detail, row.fix) == (False, "StorageError: the disk is full", "free space")
    assert guarded("x", "", bug).detail == "unexpected RuntimeError: boom"
    assert not all_ok([])
    assert all_ok([CheckResult("a", True, "")])


def test_a_bad_mode_or_a_scratch_in_the_registry_is_a_config_error(tmp_path: Path) -> None:
    targets = CheckTargets.under(tmp_path)
    with pytest.raises(ConfigError, match="'light', 'full'"):
        validate(targets, "heavy")
    with pytest.raises(ConfigError, match="outside the model registry"):
        validate(targets, "full", scratch=tmp_path / "models" / "scratch")
    assert list(tmp_path.iterdir()) == []


def test_storage_below_a_file_or_absent_but_creatable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    rows = {r.name: r for r in storage_checks(CheckTargets.under(blocker))}
    assert not rows["model registry writable"].ok
    assert "is a file, not a directory" in rows["model registry writable"].detail
    rows = {r.name: r for r in storage_checks(CheckTargets.under(tmp_path / "new"))}
    assert all(r.ok for r in rows.values())
    assert "will be created" in rows["monitor ledger writable"].detail
    assert blocker.read_text() == "keep"
    assert not (tmp_path / "new").exists()


def test_a_seed_shaped_database_is_reported_not_migrated(tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    conn = sqlite3.connect(db)
    for table in ("daily_performance", "race_predictions", "alerts"):
        conn.execute(f"CREATE TABLE {table} (id INTEGER)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    rows = ledger_checks(str(db))
    assert len(rows) == 1
    assert not rows[0].ok
    assert "no stagewise schema revision" in rows[0].detail
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["monitor.db"]


def test_a_library_ledger_is_inspected_without_leaving_files_behind(tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    PerformanceMonitor(str(db), notifiers=[]).close()
    facts = inspect_database(str(db))
    assert facts.revision is not None
    assert "race_predictions" in facts.tables
    assert [r.ok for r in ledger_checks(str(db))] == [True, True]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["monitor.db"]


def test_an_unreachable_server_is_a_failing_row() -> None:
    rows = ledger_checks("postgresql+psycopg://postgres@127.0.0.1:1/nothing")
    assert not rows[0].ok
    assert "cannot be reached" in rows[0].detail
    assert "start the database server" in rows[0].fix


def _critical_rules(threshold: float, severity: str) -> AlertConfig:
    rule = AlertRule(
        alert_type="LOW_RACE_COUNT",
        metric="total_races",
        threshold=threshold,
        min_samples=0,
        severity=severity,
    )
    return AlertConfig(domains={"races": DomainRules(rules=(rule,))})


@pytest.mark.parametrize(("severity", "ok"), [("critical", False), ("warning", True)])
def test_only_a_critical_firing_alert_fails_the_health_check(tmp_path: Path, severity: str, ok: bool) -> None:
    db = str(tmp_path / "monitor.db")
    with PerformanceMonitor(db, notifiers=[], alert_config=_critical_rules(100, severity)) as monitor:
        monitor.log_prediction(
            "R1",
            "2025-01-04",
            24,
            1,
            [{"pit_number": p, "total_score": 1 - p / 10} for p in range(1, 7)],
            [{"pit_number": p, "rank": p} for p in range(1, 7)],
        )
        assert monitor.check_alerts("2025-01-04")
    row = open_alerts_check(db)
    assert row.ok is ok
    assert "LOW_RACE_COUNT" in row.detail
    assert severity in row.detail
    if not ok:
        assert "stagewise monitor alerts" in row.fix


@pytest.mark.postgres
def test_a_postgres_ledger_is_checked_like_a_file(pg_url: str) -> None:
    PerformanceMonitor(pg_url, notifiers=[]).close()
    rows = ledger_checks(pg_url)
    assert [r.name for r in rows] == ["monitor db", "monitor ledger"]
    assert all(r.ok for r in rows), rows
    assert "postgres" not in rows[0].detail or "***" in rows[0].detail or "@" in rows[0].detail


def test_the_markets_round_trip_and_walk_forward_use_the_bundled_bars(tmp_path: Path) -> None:
    from stagewise.check.training import training_checks, walk_forward_check

    rows = {r.name: r for r in training_checks(tmp_path, domain="markets")}
    rows["walk-forward"] = walk_forward_check(tmp_path, domain="markets")
    assert all(r.ok for r in rows.values()), rows
    assert rows["training"].detail.startswith("markets: ")
    assert "accuracy" in rows["training"].detail
    assert "identical predictions" in rows["registry round trip"].detail
    assert "overall_accuracy" in rows["walk-forward"].detail
    assert (tmp_path / "walkforward" / "walkforward_results.json").is_file()
    with pytest.raises(ConfigError, match="'races', 'markets'"):
        walk_forward_check(tmp_path, domain="bars")


def test_rollout_tables_in_a_database_are_checked_and_never_created(tmp_path: Path) -> None:
    from stagewise.check.state import rollout_checks
    from stagewise.rollout import GradualRollout

    ledger = tmp_path / "monitor.db"
    PerformanceMonitor(str(ledger), notifiers=[]).close()
    url = f"sqlite:///{ledger}"
    rows = rollout_checks(url)
    assert [(r.name, r.ok) for r in rows] == [("rollout config", False)]
    assert "no rollout tables" in rows[0].detail
    assert f"--db {url}" in rows[0].fix
    assert "rollout_features" not in inspect_database(url).tables  # asking created nothing
    with GradualRollout(url, refresh_interval=0) as rollout:
        rollout.add_feature("challenger_model", "10%", reason="canary", actor="test")
    rows = rollout_checks(url)
    assert all(r.ok for r in rows), rows
    assert "challenger_model 10%" in rows[0].detail


def test_ml_models_checks_the_ensemble_inside_a_race_model(tmp_path: Path) -> None:
    """`stagewise train --domain races` registers win + place model as one version; the seed's
    dry-run checks must find the ensemble inside it instead of failing on the wrapper."""
    from typer.testing import CliRunner

    from stagewise.check.models import production_model_checks
    from stagewise.cli.main import app

    runner = CliRunner()
    root = tmp_path / "models"
    trained = runner.invoke(app, ["train", "--domain", "races", "--days", "20", "--root", str(root)])
    assert trained.exit_code == 0, trained.output
    promoted = runner.invoke(app, ["models", "promote", "latest", "--root", str(root)])
    assert promoted.exit_code == 0, promoted.output
    rows = production_model_checks(root)
    assert [row.name for row in rows] == ["production model", "model families", "feature contract"]
    assert all(row.ok for row in rows), [(row.name, row.detail) for row in rows]
    assert "3 families answer" in rows[1].detail
