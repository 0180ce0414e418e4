"""Without MLflow installed, the interop says how to get it (runs in every venv)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stagewise._exceptions import StagewiseError
from stagewise.integrations.mlflow import MlflowMissingError, log_walkforward


def test_missing_mlflow_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow now raises ImportError
    with pytest.raises(MlflowMissingError, match=r"pip install 'stagewise\[mlflow\]'") as caught:
        log_walkforward({"steps": []}, f"sqlite:///{tmp_path / 'm.db'}", "wf")
    assert isinstance(caught.value, StagewiseError)


def test_the_cli_without_mlflow_prints_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from stagewise.cli.main import app

    monkeypatch.setitem(sys.modules, "mlflow", None)
    (tmp_path / "wf").mkdir()
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    result = CliRunner().invoke(app, ["mlflow", "log-backtest", str(tmp_path / "wf"), "--tracking-uri", uri])
    assert result.exit_code == 1
    assert "pip install 'stagewise[mlflow]'" in result.output
    assert "Traceback" not in result.output
