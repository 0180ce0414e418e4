"""What every command gets at the CLI boundary: no traceback, flags named as typed, text not markup.

Issue 11, items 20 and 21.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stagewise.cli._boundary import in_cli_terms
from stagewise.cli.main import app
from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout

runner = CliRunner()


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.db"
    with PerformanceMonitor(path):
        pass
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "rollout.json"
    with GradualRollout(path, refresh_interval=0) as rollout:
        rollout.add_feature("challenger_model", "10%", reason="fixture")
    return path


def _one_line_error(args: list[str], exit_code: int = 1) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result.output


def test_a_huge_trend_window_is_refused_not_an_overflow(ledger: Path) -> None:
    out = _one_line_error(["monitor", "trend", "--days", "100000000", "--db", str(ledger)])
    assert out.startswith("ConfigError: --days must be an int in 1..36525. Got 100000000.")


def test_a_full_disk_is_one_line_naming_the_file(ledger: Path) -> None:
    if not Path("/dev/full").is_char_device():
        pytest.skip("/dev/full is not a character device on this system")
    out = _one_line_error(["monitor", "report", "--output", "/dev/full", "--db", str(ledger)])
    assert out == "StorageError: Cannot write '/dev/full': No space left on device.\n"
    assert Path("/dev/full").is_char_device()


def test_export_metrics_never_creates_a_directory_at_the_filesystem_root(ledger: Path) -> None:
    missing = Path("/stagewise-test-nonexistent")
    assert not missing.exists()
    out = _one_line_error(["monitor", "export-metrics", "--output", f"{missing}/x.prom", "--db", str(ledger)])
    assert out.startswith(f"StorageError: The directory '{missing}' does not exist")
    assert not missing.exists()


def test_export_metrics_still_creates_missing_folders_elsewhere(ledger: Path, tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "x.prom"
    result = runner.invoke(app, ["monitor", "export-metrics", "--output", str(target), "--db", str(ledger)])
    assert result.exit_code == 0, result.output
    assert target.is_file()


def test_error_text_in_square_brackets_is_printed_literally(tmp_path: Path) -> None:
    out = _one_line_error(["rollout", "add", "bad[x]^{0,63}$", "--config", str(tmp_path / "r.json")])
    assert "Got 'bad[x]^{0,63}$'." in out


def test_markup_in_a_kill_reason_is_shown_as_typed(config: Path) -> None:
    reason = "[bold]broken[/] by ^[a-z]{0,63}$"
    done = runner.invoke(
        app, ["rollout", "kill", "challenger_model", "--reason", reason, "--config", str(config)]
    )
    assert done.exit_code == 0, done.output
    status = runner.invoke(app, ["rollout", "status", "--config", str(config)], env={"COLUMNS": "250"})
    assert reason in status.output


def test_train_with_negative_days_names_the_flag() -> None:
    out = _one_line_error(["train", "--domain", "races", "--days", "-5", "--no-save"])
    assert out == "ConfigError: --days must be an int >= 1. Got -5.\n"


@pytest.mark.parametrize(
    "args",
    [
        ["rollout", "set", "challenger_model", "50%", "--reason", "   "],
        ["rollout", "kill", "challenger_model", "--reason", ""],
        ["rollout", "add", "other", "--reason", " "],
    ],
    ids=["set", "kill", "add"],
)
def test_a_blank_reason_is_refused_and_nothing_changes(args: list[str], config: Path) -> None:
    before = config.read_bytes()
    out = _one_line_error([*args, "--config", str(config)], exit_code=2)
    assert "--reason" in out
    assert "must not be blank" in out
    assert config.read_bytes() == before


def test_a_negative_limit_is_refused(config: Path) -> None:
    out = _one_line_error(["rollout", "audit", "--limit", "-2", "--config", str(config)], exit_code=2)
    assert "--limit" in out


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["audit"],
        ["plan", "challenger_model"],
        ["kill", "challenger_model", "--reason", "r"],
        ["auto", "challenger_model"],
    ],
    ids=["status", "audit", "plan", "kill", "auto"],
)
def test_a_missing_rollout_config_is_an_error_and_is_not_created(args: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "x.json"
    out = _one_line_error(["rollout", *args, "--config", str(missing)])
    assert out.startswith(f"NotFoundError: The rollout config '{missing}' does not exist")
    assert not missing.parent.exists()


def test_errors_name_the_flag_not_the_python_parameter(ledger: Path) -> None:
    out = _one_line_error(["monitor", "trend", "--end-date", "2025-99-01", "--db", str(ledger)])
    assert out.startswith("DataValidationError: --end-date must be")
    assert "end_date" not in out


def test_in_cli_terms_rewrites_parameter_names_only() -> None:
    flags = {"end_date": "--end-date", "days": "--days", "feature": "FEATURE"}
    assert (
        in_cli_terms("The 'days' parameter must be an int >= 1. Got 0.", flags)
        == "--days must be an int >= 1. Got 0."
    )
    assert (
        in_cli_terms("end_date must be a date; 7 days of data", flags)
        == "--end-date must be a date; 7 days of data"
    )
    assert in_cli_terms("'feature' must be known", flags) == "FEATURE must be known"
    assert in_cli_terms("--end-date and other_name stay", flags) == "--end-date and other_name stay"


# ------------------------------------------------------------------ item 21: pipes are not 80 columns
def _piped(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("stagewise")), *args], cwd=cwd, env=env,
        capture_output=True, text=True, encoding="utf-8", timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_table_written_to_a_pipe_is_not_truncated(config: Path, tmp_path: Path) -> None:
    reason = "a long reason that must survive a pipe whole, " * 4
    with GradualRollout(config, refresh_interval=0) as rollout:
        rollout.add_feature("a_feature_with_a_rather_long_name_for_a_narrow_table", "50%", reason="r")
        rollout.kill("challenger_model", reason=reason.strip())
    out = _piped(["rollout", "status", "--config", str(config)], tmp_path)
    assert reason.strip() in out
    assert "a_feature_with_a_rather_long_name_for_a_narrow_table" in out
    assert "…" not in out


def test_an_atomic_write_never_replaces_a_device(tmp_path: Path) -> None:
    if not Path("/dev/full").is_char_device():
        pytest.skip("/dev/full is not a character device on this system")
    out = _one_line_error(["ops", "prometheus-rules", "--output", "/dev/full"])
    assert out.startswith("StorageError: Cannot write '/dev/full': it exists and is not a regular file")
    assert Path("/dev/full").is_char_device()
