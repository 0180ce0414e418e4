"""The dashboard's "Decisions" section through Streamlit's AppTest: the rows equal the audit log's decisions.

The expected figures are read from the rollout's audit log (JSON lines) independently of the dashboard.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from dashboard_support import Workspace
from streamlit.testing.v1 import AppTest

import stagewise.dashboard
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller_query import ControllerQuery
from stagewise.rollout.controller_runner import run_controller
from stagewise.rollout.outcomes import MemoryOutcomes

APP = str(Path(stagewise.dashboard.__file__).parent / "app.py")


def launch(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    for key, value in ws.env().items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame(at: AppTest, first_column: str) -> pd.DataFrame:
    (found,) = [
        df.value for df in at.dataframe if len(df.value.columns) and df.value.columns[0] == first_column
    ]
    return found


def decide(ws: Workspace, challenger_hits: int) -> None:
    """A feature enabled 8 days ago at 10 %, a week of races, one applied controller decision."""
    now = datetime.now(UTC)
    past = now - timedelta(days=8)
    with GradualRollout(ws.config, refresh_interval=0, actor="tester", now=lambda: past) as rollout:
        rollout.add_feature("guarded", "10%", reason="canary")
    ledger = MemoryOutcomes()
    for k in range(1, 8):
        day = (now - timedelta(days=k)).date()
        for variant, races, hits in (("on", 50, challenger_hits), ("control", 450, 135)):
            for i in range(races):
                ledger.add_race(
                    f"{day}-{variant}-{i}", day, variant=variant, hit_1st=i < hits, hit_top3=i < hits,
                    score_accuracy=1.0 if i < hits else 0.97,
                )  # fmt: skip
    with GradualRollout(ws.config, refresh_interval=0, actor="tester") as rollout:
        run_controller(rollout, ledger, ControllerQuery("guarded", now=now))


def controller_entries(ws: Workspace) -> list[dict[str, Any]]:
    path = ws.config.parent / "rollout_audit.jsonl"
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in entries if "controller" in (e.get("details") or {})]


def test_no_decisions_yet_says_so(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    at = launch(workspace, monkeypatch)
    assert any("No controller decisions recorded yet" in str(i.value) for i in at.info)


def test_a_rollback_and_its_metric_rows_are_shown(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    decide(workspace, challenger_hits=2)
    (entry,) = controller_entries(workspace)
    at = launch(workspace, monkeypatch)
    decisions = frame(at, "decided_at")
    controller = entry["details"]["controller"]
    assert decisions.to_dict("records")[0] | {"reasons": None} == {
        "decided_at": controller["decided_at"], "feature": "guarded", "variant": "", "action": "rollback",
        "stage_before": "10%", "stage_after": "disabled", "day": controller["numbers"]["days"][-1]["date"],
        "reasons": None, "seq": entry["seq"],
    }  # fmt: skip
    assert "is CRITICAL" in decisions["reasons"][0]
    metrics = frame(at, "decision").set_index("metric")
    sequential = controller["numbers"]["sequential"]
    for name, test in sequential.items():
        assert metrics.loc[name, "p_value"] == pytest.approx(test["p_value"])
        assert metrics.loc[name, "estimate"] == pytest.approx(test["estimate"])
        assert metrics.loc[name, "verdict"] == ("harm" if test["rejected"] else "ok")
    assert set(metrics["decision"]) == {entry["seq"]}


def test_an_abn_run_shows_one_row_per_variant_named_beside_a_plain_decision(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An A/B/n run records one decision per variant: each row names its variant; a decision about no
    variant (the plain feature's) has a blank variant."""
    decide(workspace, challenger_hits=2)
    now = datetime.now(UTC)
    past = now - timedelta(days=8)
    win = {"control": 0.40, "equal": 0.40, "better": 0.60, "harmful": 0.12}
    rng = np.random.default_rng(11)
    ledger = MemoryOutcomes()
    with GradualRollout(workspace.config, refresh_interval=0, actor="tester", now=lambda: past) as rollout:
        rollout.add_feature("abn", "50%", salt="abn:dashboard", reason="A/B/n")
        rollout.set_variants("abn", {"harmful": 1 / 3, "equal": 1 / 3, "better": 1 / 3}, reason="three")
        for k in range(1, 8):
            day = (now - timedelta(days=k)).date()
            for i in range(240):
                race_id = f"{day:%Y%m%d}{i:04d}"
                variant = rollout.variant("abn", race_id)
                won = bool(rng.random() < win[variant])
                ledger.add_race(
                    race_id, day, variant=variant, model_version=variant, hit_1st=won, hit_top3=won,
                    score_accuracy=0.9 if won else 0.75,
                )  # fmt: skip
    with GradualRollout(workspace.config, refresh_interval=0, actor="tester") as rollout:
        run_controller(rollout, ledger, ControllerQuery("abn", now=now))
    logged = {
        e["seq"]: (
            e["feature"],
            e["details"]["controller"].get("variant", ""),
            e["details"]["controller"]["action"],
        )
        for e in controller_entries(workspace)
    }
    assert sorted(v for f, v, _ in logged.values() if f == "abn") == ["better", "equal", "harmful"]
    assert logged[min(logged)][:2] == ("guarded", "")
    at = launch(workspace, monkeypatch)
    decisions = frame(at, "decided_at")
    shown = {
        row["seq"]: (row["feature"], row["variant"], row["action"]) for row in decisions.to_dict("records")
    }
    assert shown == logged
    assert list(decisions.columns[:4]) == ["decided_at", "feature", "variant", "action"]
