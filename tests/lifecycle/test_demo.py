"""The demo end to end: a small-but-real run (fast suite) and the default run (slow suite)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stagewise.cli.main import app
from stagewise.lifecycle import TextProgress, run_demo
from stagewise.lifecycle.demo import DemoResult
from stagewise.rollout import GradualRollout

runner = CliRunner()


def _check_lifecycle(result: DemoResult, lines: list[str]) -> None:
    root = result.workdir
    # The good challenger is promoted at least once (10 % → 50 %), never rolled back.
    promotions = [d for d in result.good_run if d.action == "promote"]
    assert promotions, [(d.day, d.action, d.reasons) for d in result.good_run]
    assert promotions[0].stage_before == "10%"
    assert promotions[0].stage_after == "50%"
    assert not any(d.action == "rollback" for d in result.good_run)
    # The degraded one is rolled back to disabled, and the replay stops a day later.
    rollbacks = [d for d in result.degraded_run if d.action == "rollback"]
    assert len(rollbacks) == 1
    assert rollbacks[0].stage_after == "disabled"
    assert result.degraded_run[-1].stage_after == "disabled"
    assert result.degraded_run[-1].challenger_races == 0  # disabled: every race goes to the champion
    # The rollback notification went over HTTP to the local receiver, HMAC-signed.
    titles = [n["body"]["title"] for n in result.notifications]
    assert "Rollout of degraded_model rolled back: 10% -> disabled" in titles
    assert all(n["signature_ok"] for n in result.notifications)

    # The audit log (read back from disk) holds every decision and its chain verifies.
    rollout = GradualRollout(root / "config" / "rollout_config.json")
    assert rollout.verify_audit().ok
    audit = rollout.audit_log()
    moves = [
        (e["feature"], e["old_stage"], e["new_stage"]) for e in audit if e["actor"] == "stagewise-controller"
    ]
    assert ("challenger_model", "10%", "50%") in moves
    assert ("degraded_model", "10%", "disabled") in moves
    holds = [e for e in audit if e["action"] == "controller_hold"]
    assert len(holds) == sum(d.action == "hold" for d in (*result.good_run, *result.degraded_run))
    assert rollout.get_rollout_status()["feature_rollouts"]["degraded_model"]["stage"] == "disabled"

    # The page shows the decisions, the verified chain, links that resolve, and the notification.
    page = result.report.read_text(encoding="utf-8")
    assert "chain verified" in page
    assert page.count('class="promote"') == len(promotions)
    assert page.count('class="rollback"') == 1
    assert "Rollout of degraded_model rolled back: 10% -&gt; disabled" in page
    backtests = [f"../backtest/{name}/walkforward_report.html" for name in ("champion", "challenger")]
    for href in (*backtests, "monitor.html", "demo_summary.json"):
        assert f'href="{href}"' in page
        assert (result.report.parent / href).resolve().is_file()
    summary = json.loads(result.summary_path.read_text(encoding="utf-8"))
    assert [d["action"] for d in summary["good_run"]] == [d.action for d in result.good_run]
    # The narrative: six numbered steps, one line per replayed day.
    assert [line[:5] for line in lines if line.startswith("[")] == [f"[{i}/6]" for i in range(1, 7)]
    day_lines = [line for line in lines if re.match(r"\s+2025-\d\d-\d\d ", line)]
    assert len(day_lines) == len(result.good_run) + len(result.degraded_run)


def test_small_demo_promotes_the_challenger_and_rolls_back_the_degraded_one(
    small_demo: tuple[DemoResult, list[str]],
) -> None:
    result, lines = small_demo
    assert len(result.good_run) == 12
    _check_lifecycle(result, lines)
    # The registry: champion in production, the rolled-back challenger lost its alias.
    registry = json.loads((result.workdir / "models" / "registry.json").read_text(encoding="utf-8"))
    assert registry["production"] == result.models["champion"]["version"]
    assert "challenger" not in registry["aliases"]
    page = result.report.read_text(encoding="utf-8")
    assert "<td>unalias</td>" in page  # the registry events are on the page


@pytest.mark.slow
def test_default_demo_rolls_the_challenger_out_to_100_percent(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(tmp_path / "run", progress=TextProgress(lines.append))
    _check_lifecycle(result, lines)
    assert [d.stage_after for d in result.good_run if d.action == "promote"] == ["50%", "100%"]
    registry = json.loads((tmp_path / "run" / "models" / "registry.json").read_text(encoding="utf-8"))
    assert registry["production"] == result.models["challenger"]["version"]
    # the finished promotion completed the rollout: nothing waits for a challenger any more
    good = GradualRollout(tmp_path / "run" / "config" / "rollout_config.json").feature("challenger_model")
    assert good.is_completed
    assert good.completed is not None
    assert good.completed["version"] == registry["production"]


# ------------------------------------------------------------------------------------------- faults
def _invoke(*args: str) -> Any:
    return runner.invoke(app, ["demo", *args])


def test_a_path_below_a_file_is_a_storage_error_and_the_file_is_kept(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("keep me")
    result = _invoke("--workdir", str(blocker / "run"))
    assert result.exit_code == 1
    assert "StorageError" in result.output
    assert "is not writable" in result.output
    assert blocker.read_text() == "keep me"


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Any:
    """A directory nobody can write, holding one file stored before."""
    from readonly_support import read_only

    target = tmp_path / "ro"
    target.mkdir()
    (target / "keep.txt").write_text("stored before")
    with read_only(target) as done:
        if not done:
            pytest.skip("cannot make a read-only directory here (root without the right to mount)")
        yield target


def test_a_read_only_workdir_is_a_storage_error_and_nothing_changes(read_only_dir: Path) -> None:
    before = sorted(p.name for p in read_only_dir.iterdir())
    result = _invoke("--workdir", str(read_only_dir), "--days", "7")
    assert result.exit_code == 1
    assert "StorageError" in result.output
    assert "is not writable" in result.output
    assert str(read_only_dir) in result.output
    assert sorted(p.name for p in read_only_dir.iterdir()) == before
    assert (read_only_dir / "keep.txt").read_text() == "stored before"


def test_a_corrupt_monitor_database_is_named_and_left_untouched(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    ledger = tmp_path / "data" / "monitor.db"
    ledger.write_bytes(b"this is not SQLite" * 100)
    result = _invoke("--workdir", str(tmp_path))
    assert result.exit_code == 1
    assert "StorageError" in result.output
    assert "monitor.db" in result.output
    assert "not a SQLite database" in result.output
    assert ledger.read_bytes() == b"this is not SQLite" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_truncated_sqlite_database_is_named_and_left_untouched(tmp_path: Path) -> None:
    import sqlite3

    (tmp_path / "data").mkdir()
    ledger = tmp_path / "data" / "monitor.db"
    with sqlite3.connect(ledger) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
    conn.close()
    data = ledger.read_bytes()[:6000]  # the header survives, the pages do not
    ledger.write_bytes(data)
    result = _invoke("--workdir", str(tmp_path))
    assert result.exit_code == 1
    assert "StorageError" in result.output
    assert "monitor.db" in result.output
    assert ledger.read_bytes() == data


def test_an_earlier_run_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    config = tmp_path / "config" / "rollout_config.json"
    config.write_text('{"feature_rollouts": {}}')
    result = _invoke("--workdir", str(tmp_path))
    assert result.exit_code == 1
    assert "ConfigError" in result.output
    assert "never overwrites" in result.output
    assert "'config'" in result.output
    assert config.read_text() == '{"feature_rollouts": {}}'


def test_a_webhook_port_in_use_is_a_storage_error_before_anything_is_written(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _invoke("--workdir", str(tmp_path / "run"), "--webhook-port", str(port))
    assert result.exit_code == 1
    assert "StorageError" in result.output
    assert f"127.0.0.1:{port}" in result.output
    assert "the port is in use" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("args", "message", "exit_code"),
    [
        (["--days", "3"], "--days must be an int in [7, 120]. Got 3.", 1),
        (["--seed", "-1"], "a seed must be an int in 0..4294967295. Got -1.", 2),
        (["--domain", "horses"], "--domain must be one of ['races', 'markets']. Got 'horses'.", 1),
        (["--webhook-port", "70000"], "The webhook 'port' must be an int in [0, 65535]", 1),
        (
            ["--domain", "markets", "--days", "100"],
            "--days must be an int in [7, 87] for the markets",
            1,
        ),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(
    tmp_path: Path, args: list[str], message: str, exit_code: int
) -> None:
    result = _invoke("--workdir", str(tmp_path / "run"), *args)
    assert result.exit_code == exit_code
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "run").exists()
