"""One small-but-real demo run shared by the lifecycle suites (it takes about a minute)."""

from __future__ import annotations

import pytest

from stagewise.lifecycle import TextProgress, run_demo
from stagewise.lifecycle.demo import DemoResult

#: Tiny ensembles: the run stays real (fits, backtests, registry, ledger, controller, HTTP) but fast.
TINY = {k: {"n_estimators": 8} for k in ("lgbm_params", "xgb_params", "rf_params")}


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, list[str]]:
    """``run_demo(days=12)`` with tiny models, and its narrative lines. Tests must not change it
    (copy the work directory first)."""
    lines: list[str] = []
    root = tmp_path_factory.mktemp("demo") / "run"
    result = run_demo(root, days=12, progress=TextProgress(lines.append), model_params=TINY)
    return result, lines
