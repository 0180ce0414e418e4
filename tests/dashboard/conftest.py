"""Fixtures of the dashboard suites."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dashboard_support import Workspace, build_backtest, build_ledger, build_registry, build_rollout


@pytest.fixture(scope="session")
def workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("dashboard_ws")
    ws = Workspace(root / "monitor.db", root / "rollout_config.json", root / "models", root / "walkforward")
    build_ledger(ws.db)
    build_rollout(ws.config)
    build_registry(ws.models)
    build_backtest(ws.backtest_dir / "races")
    return ws


@pytest.fixture
def workspace(workspace_template: Workspace, tmp_path: Path) -> Workspace:
    """A private copy of the template (tests change stages and tamper with files)."""
    src = workspace_template.db.parent
    dst = tmp_path / "ws"
    shutil.copytree(src, dst)
    return Workspace(dst / "monitor.db", dst / "rollout_config.json", dst / "models", dst / "walkforward")
