from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from stagewise.cli.main import app
from stagewise.lifecycle.demo import run_demo

runner = CliRunner()


@pytest.mark.slow
def test_demo_promotes_a_good_challenger_and_rolls_back_a_broken_one(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "run", days=21, say=lambda _: None)
    assert [d.action for d in result.good_run].count("promote") >= 1
    assert any(d.action == "rollback" for d in result.degraded_run)
    assert result.degraded_run[-1].stage_after == "disabled"
    assert any("rollback" in str(n).lower() or "roll" in str(n).lower() for n in result.notifications)
    page = result.report.read_text(encoding="utf-8")
    assert "promote" in page
    assert "rollback" in page
    assert "verified" in page
    for name in ("champion", "challenger"):
        assert (tmp_path / "run" / "backtest" / name / "walkforward_results.json").exists()


def test_demo_refuses_a_workdir_it_cannot_write(tmp_path: Path) -> None:
    # A path below a regular file cannot be created, even by root (who ignores permission bits).
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("keep me")
    result = runner.invoke(app, ["demo", "--workdir", str(blocker / "run")])
    assert result.exit_code == 1
    assert "StorageError" in result.output
    assert "not writable" in result.output
    assert blocker.read_text() == "keep me"


def test_demo_never_overwrites_an_earlier_run(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    ledger = tmp_path / "data" / "monitor.db"
    ledger.write_bytes(b"earlier run")
    result = runner.invoke(app, ["demo", "--workdir", str(tmp_path)])
    assert result.exit_code == 1
    assert "ConfigError" in result.output
    assert "already holds a demo run" in result.output
    assert ledger.read_bytes() == b"earlier run"


def test_demo_days_out_of_range_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--workdir", str(tmp_path), "--days", "3"])
    assert result.exit_code == 1
    assert "The 'days' option must be an int in [7, 120]. Got 3." in result.output
