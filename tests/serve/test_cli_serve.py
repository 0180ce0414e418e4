"""``stagewise serve`` option errors are one line naming the option, exit 1, nothing started."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stagewise.cli.main import app

runner = CliRunner(env={"COLUMNS": "200"})


def test_models_must_be_a_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--models", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "ConfigError" in result.output
    assert "--models" in result.output
    assert "missing" in result.output


def test_reload_interval_must_be_positive(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--models", str(tmp_path), "--reload-interval", "0"])
    assert result.exit_code == 1
    assert "ConfigError: --reload-interval input should be greater than 0; got 0.0." in result.output


def test_help_names_every_option() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--workers", "--db", "--models", "--config", "--feature", "--shadow"):
        assert option in result.output
