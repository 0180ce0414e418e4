"""What the ops tests share: the checked-in files and the metric names the server can expose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES_FILE = ROOT / "ops" / "prometheus" / "stagewise-rules.yml"
DASHBOARD_FILE = ROOT / "ops" / "grafana" / "stagewise-dashboard.json"


def promtool() -> str:
    """The promtool binary, or a skip that says how to get it."""
    path = shutil.which("promtool")
    if path is None:
        pytest.skip(
            "promtool is not installed (Debian package 'prometheus'; .ci/run installs it with CI=true)"
        )
    return path
