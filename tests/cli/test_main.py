from __future__ import annotations

import typer
from typer.testing import CliRunner

from stagewise import ConfigError
from stagewise.cli.main import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("stagewise ")


def test_user_error_is_one_line_without_traceback() -> None:
    probe = typer.Typer()

    @probe.command()
    def boom() -> None:
        raise ConfigError("The 'days' option must be > 0. Got -1 instead.")

    app.add_typer(probe, name="probe-error")
    try:
        result = runner.invoke(app, ["probe-error", "boom"])
    finally:
        app.registered_groups.pop()
    assert result.exit_code == 1
    assert "ConfigError: The 'days' option must be > 0. Got -1 instead." in result.output
    assert "Traceback" not in result.output
