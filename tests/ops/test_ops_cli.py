"""``stagewise ops``: prints what the library builds, writes --output, names a bad option."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stagewise.cli.main import app
from stagewise.ops import dashboard_text, prometheus_rules, rules_text

runner = CliRunner()


def test_prometheus_rules_prints_the_rules_with_the_overrides() -> None:
    result = runner.invoke(app, ["ops", "prometheus-rules", "--for", "0s", "--window", "2m"])
    assert result.exit_code == 0, result.output
    assert result.stdout == rules_text(prometheus_rules(for_override="0s", window="2m"))
    assert {r["for"] for g in json.loads(result.stdout)["groups"] for r in g["rules"]} == {"0s"}


def test_grafana_dashboard_writes_the_output_file(tmp_path: Path) -> None:
    target = tmp_path / "grafana" / "board.json"
    result = runner.invoke(app, ["ops", "grafana-dashboard", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == dashboard_text()


def test_a_bad_duration_names_the_flag() -> None:
    result = runner.invoke(app, ["ops", "prometheus-rules", "--for", "five minutes"])
    assert result.exit_code == 1
    assert "ConfigError: The --for must be a Prometheus duration" in result.output
    assert "'five minutes'" in result.output
    assert "Traceback" not in result.output


def test_an_output_below_a_file_is_a_storage_error_and_the_file_is_kept(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    result = runner.invoke(app, ["ops", "grafana-dashboard", "--output", str(blocker / "board.json")])
    assert result.exit_code == 1
    assert "StorageError: --output" in result.output
    assert blocker.read_text() == "keep me"
