"""Faults a user can cause, across the command groups: one line, exit 1, nothing stored changes.

The demo's own faults are in tests/lifecycle/test_demo.py, `stagewise check`'s in
test_check_faults_cli.py and the server's port in tests/serve/test_serve_port_cli.py.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from readonly_support import read_only, snapshot
from stagewise.cli.main import app

runner = CliRunner()


def _fails_cleanly(args: list[str], error: str, *fragments: str) -> str:
    result = runner.invoke(app, args)
    text = result.output.replace("\n", " ")
    assert result.exit_code == 1, result.output
    assert f"{error}:" in text
    for fragment in fragments:
        assert fragment in text
    assert "Traceback" not in result.output
    return text


MONITOR_READS = [
    ["monitor", "stats", "--date", "2025-01-01"],
    ["monitor", "alerts", "--date", "2025-01-01"],
    ["monitor", "trend"],
    ["monitor", "report"],
    ["monitor", "export-metrics"],
]


@pytest.mark.parametrize("args", MONITOR_READS, ids=lambda a: a[1])
def test_a_missing_ledger_is_named_and_never_created(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "nowhere" / "monitor.db"
    for spelled in (str(db), f"sqlite:///{db}"):
        _fails_cleanly([*args, "--db", spelled], "NotFoundError", "does not exist")
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("args", MONITOR_READS, ids=lambda a: a[1])
def test_a_corrupt_ledger_is_named_and_left_untouched(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "monitor.db"
    db.write_bytes(b"this is not a database" * 200)
    before = snapshot(tmp_path)
    _fails_cleanly([*args, "--db", str(db)], "StorageError", "not a database")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "args",
    [
        ["models", "list"],
        ["models", "show", "production"],
        ["models", "verify", "latest"],
        ["models", "rollback"],
    ],
    ids=["list", "show", "verify", "rollback"],
)
def test_a_missing_registry_is_named_and_never_created(tmp_path: Path, args: list[str]) -> None:
    root = tmp_path / "models"
    _fails_cleanly([*args, "--root", str(root)], "NotFoundError", f"No model registry at {str(root)!r}")
    assert not root.exists()


@pytest.fixture
def rollout_dir(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    result = runner.invoke(app, ["rollout", "add", "challenger", "--config", str(config / "rollout.json")])
    assert result.exit_code == 0, result.output
    return config


def test_a_corrupt_rollout_config_is_named_and_left_untouched(rollout_dir: Path) -> None:
    path = rollout_dir / "rollout.json"
    path.write_text('{"features": {"challenger": garbage', encoding="utf-8")
    before = snapshot(rollout_dir)
    for args in (["rollout", "status"], ["rollout", "set", "challenger", "10%", "--reason", "go"]):
        _fails_cleanly([*args, "--config", str(path)], "ConfigError", "is not valid JSON", str(path))
    assert snapshot(rollout_dir) == before


def test_a_read_only_rollout_config_is_a_storage_error_and_nothing_changes(rollout_dir: Path) -> None:
    path = rollout_dir / "rollout.json"
    before = snapshot(rollout_dir)
    with read_only(rollout_dir) as done:
        if not done:
            pytest.skip("cannot make a read-only directory here (root without the right to mount)")
        _fails_cleanly(
            ["rollout", "set", "challenger", "10%", "--reason", "go", "--config", str(path)], "StorageError"
        )
    assert snapshot(rollout_dir) == before
    status = runner.invoke(app, ["rollout", "status", "--config", str(path), "--json"])
    assert '"disabled"' in status.output


def test_a_dashboard_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _fails_cleanly(["dashboard", "--port", str(port)], "StorageError", f"127.0.0.1:{port}", "--port")
