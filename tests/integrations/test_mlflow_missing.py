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
