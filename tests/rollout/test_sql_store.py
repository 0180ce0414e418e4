"""The SQL store on real SQLite and PostgreSQL: same behaviour as the file, several processes, tampering."""

from __future__ import annotations

import multiprocessing as mp
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from stagewise import ConfigError, NotFoundError, StorageError
from stagewise.rollout import ALL_FEATURES, GradualRollout
from stagewise.rollout.file_store import FileRolloutStore
from stagewise.rollout.sql_store import SqlRolloutStore

FORK = mp.get_context("fork")
NOW = datetime(2025, 12, 3, 9, 30, tzinfo=UTC)
OPS_TO_EVE = {"a": '"actor":"ops"', "b": '"actor":"eve"'}


def open_rollout(db: tuple[str, str | None], actor: str = "ops") -> GradualRollout:
    url, schema = db
    return GradualRollout(
        store=SqlRolloutStore(url, schema=schema), now=lambda: NOW, refresh_interval=0, actor=actor
    )


def test_stages_audit_and_seed_behaviour_match_the_file_store(db: tuple[str, str | None]) -> None:
    rollout = open_rollout(db)
    rollout.add_feature("probability_calibration", hash_mode="legacy-md5", reason="migrated from the seed")
    counts = {}
    for stage in ("disabled", "10%", "50%", "100%"):
        rollout.update_rollout_stage("probability_calibration", stage, reason=f"to {stage}")
        counts[stage] = sum(rollout.should_enable_feature("probability_calibration", i) for i in range(100))
    assert counts == {"disabled": 0, "10%": 13, "50%": 52, "100%": 100}
    status = rollout.get_rollout_status()
    assert status["updated_at"] == "2025-12-03 09:30:00"
    assert status["feature_rollouts"]["probability_calibration"]["enabled_at"] == "2025-12-03"
    log = rollout.audit_log()
    assert [e["new_stage"] for e in log] == ["disabled", "10%", "50%", "100%"]
    assert rollout.verify_audit().ok


def test_seed_json_can_be_imported(db: tuple[str, str | None], tmp_path: Path) -> None:
    seed = tmp_path / "rollout_config.json"
    seed.write_text(
        '{"feature_rollouts": {"dynamic_integration": {"stage": "100%", "enabled_at": "2025-11-01"}},'
        ' "updated_at": "2025-12-02 16:12:02"}'
    )
    url, schema = db
    store = SqlRolloutStore(url, schema=schema)
    store.import_config(FileRolloutStore(seed).read())
    feature = GradualRollout(store=store).feature("dynamic_integration")
    assert (feature.stage.name, feature.enabled_at, feature.hash_mode) == ("100%", "2025-11-01", "legacy-md5")


def test_bad_input_stores_nothing(db: tuple[str, str | None]) -> None:
    rollout = open_rollout(db)
    rollout.add_feature("f", "10%", salt="f")
    for call in (
        lambda: rollout.update_rollout_stage("f", "150%"),
        lambda: rollout.update_rollout_stage("g", "10%"),
        lambda: rollout.add_feature("f"),
    ):
        with pytest.raises((ConfigError, NotFoundError)):
            call()
    assert rollout.get_rollout_status()["feature_rollouts"]["f"]["stage"] == "10%"
    assert len(rollout.audit_log()) == 1


def test_kill_switch_reaches_another_instance(db: tuple[str, str | None]) -> None:
    operator, server = open_rollout(db, "oncall"), open_rollout(db)
    operator.add_feature("a", "100%", salt="a")
    operator.add_feature("b", "50%", salt="b")
    assert server.should_enable_feature("a", "race-1")
    assert operator.kill(ALL_FEATURES, reason="incident") == ["a", "b"]
    assert not any(server.should_enable_feature(f, f"race-{i}") for f in "ab" for i in range(100))
    assert server.is_killed("b")
    assert [e["action"] for e in server.audit_log()][-2:] == ["kill", "kill"]


def test_verify_detects_edits_deletions_and_cut_tails(db: tuple[str, str | None]) -> None:
    url, schema = db
    rollout = open_rollout(db)
    rollout.add_feature("f", salt="f")
    for stage in ("10%", "50%", "100%"):
        rollout.update_rollout_stage("f", stage)
    table = f'"{schema}".rollout_audit' if schema else "rollout_audit"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET entry = replace(entry, :a, :b) WHERE seq = 2"), OPS_TO_EVE)
        report = rollout.verify_audit()
        assert not report.ok
        assert "hash mismatch" in report.problems[0]
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET entry = replace(entry, :b, :a) WHERE seq = 2"), OPS_TO_EVE)
        assert rollout.verify_audit().ok
        with engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table} WHERE seq = 4"))
        report = rollout.verify_audit()
        assert not report.ok
        assert "deleted from the end" in report.problems[0]
        with engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {table} WHERE seq = 2"))
        assert "prev_hash does not match" in rollout.verify_audit().problems[0]
    finally:
        engine.dispose()


def _sql_writer(url: str, schema: str | None, prefix: str, count: int) -> None:
    rollout = GradualRollout(store=SqlRolloutStore(url, schema=schema), refresh_interval=0, actor=prefix)
    for i in range(count):
        rollout.add_feature(f"{prefix}_{i}", "10%", salt=f"{prefix}_{i}")


def test_concurrent_writers_in_several_processes_lose_nothing(db: tuple[str, str | None]) -> None:
    url, schema = db
    # no table exists yet: the writers also race to create them
    procs = [FORK.Process(target=_sql_writer, args=(url, schema, f"p{n}", 10)) for n in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    rollout = open_rollout(db)
    assert len(rollout.get_rollout_status()["feature_rollouts"]) == 30
    report = rollout.verify_audit()
    assert report.ok, report.problems
    assert report.entries == 30


def test_a_bad_url_is_named() -> None:
    with pytest.raises(ConfigError, match=r"'sqlite\+nosuchdriver:///x.db' cannot be used"):
        SqlRolloutStore("sqlite+nosuchdriver:///x.db")


@pytest.mark.parametrize("form", ["url", "path", "relative url"])
def test_a_new_sqlite_file_gets_its_folder_as_the_monitor_s_does(
    form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/rollout.md: GradualRollout("sqlite:///data/monitor.db") works in a fresh directory."""
    monkeypatch.chdir(tmp_path)
    target = {"url": f"sqlite:///{tmp_path}/data/monitor.db", "path": "data/monitor.db",
              "relative url": "sqlite:///data/monitor.db"}[form]  # fmt: skip
    assert not (tmp_path / "data").exists()
    with GradualRollout(db_url=target, now=lambda: NOW, actor="t") as rollout:
        rollout.add_feature("calib", "10%", salt="calib")
    assert (tmp_path / "data" / "monitor.db").is_file()
    with GradualRollout(db_url="data/monitor.db") as again:
        assert again.feature("calib").stage.name == "10%"


def test_a_sqlite_folder_is_never_made_at_the_filesystem_root() -> None:
    with pytest.raises(StorageError, match="creates no directory at the filesystem root"):
        SqlRolloutStore(f"sqlite:////stagewise-no-such-{uuid.uuid4().hex}/monitor.db")


def test_shares_the_monitor_database_file(tmp_path: Path) -> None:
    from stagewise.monitor import PerformanceMonitor

    path = tmp_path / "data" / "monitor.db"
    with PerformanceMonitor(monitor_db=path) as monitor:
        monitor.log_prediction(
            race_id=1, race_date="2025-12-03", venue_code="01", race_number=1,
            predictions=[{"pit_number": p} for p in range(1, 7)],
            actual_results=[{"pit_number": p, "rank": p} for p in range(1, 7)],
            integration_mode="DYNAMIC", feature_flags={"calib": True},
        )  # fmt: skip
        with GradualRollout(db_url=str(path), now=lambda: NOW, actor="t") as rollout:
            rollout.add_feature("calib", "10%", salt="calib")
        stats = monitor.calculate_daily_stats("2025-12-03")
    assert stats is not None
    assert stats["total_races"] == 1
    with GradualRollout(db_url=f"sqlite:///{path}") as again:
        assert again.feature("calib").stage.name == "10%"


def test_a_reader_keeps_serving_when_the_database_fails(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    writer = GradualRollout(db_url=url, refresh_interval=0, actor="t")
    writer.add_feature("f", "100%", salt="f")
    reader = GradualRollout(db_url=url, refresh_interval=0)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE rollout_state"))
    finally:
        engine.dispose()
    assert reader.should_enable_feature("f", "race-1") is True  # the last good config
    assert isinstance(reader.refresh_error, StorageError)
    with pytest.raises(StorageError, match="Cannot"):
        writer.update_rollout_stage("f", "10%")
    writer.close()
    reader.close()
