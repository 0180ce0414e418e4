"""After ``stagewise demo`` the work directory is a deployment that works as the user goes on with it.

Item 8: ``stagewise serve`` started in the demo's directory (every option at its default) is ready
and answers with the production model. Item 9: the demo logged feature values, so ``monitor drift``
and every dashboard section show real content. Item 10: ``stagewise dashboard --workdir DIR`` reads
the demo's four sources.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

import stagewise.dashboard
from process_support import cli_process
from stagewise.cli.main import app as cli_app
from stagewise.dashboard.data import DashboardSettings
from stagewise.lifecycle.demo import DemoResult
from stagewise.rollout import GradualRollout

Demo = tuple[DemoResult, list[str]]
runner = CliRunner(env={"COLUMNS": "200"})


@contextmanager
def _serve_in(directory: Path) -> Iterator[str]:
    """``stagewise serve --port P`` run with ``directory`` as its working directory (all else default)."""
    with cli_process(["serve", "--reload-interval", "0.5"], health="/healthz", cwd=directory, timeout=90) as (
        base,
        _,
    ):
        yield base


def _request_for_a_new_race(workdir: Path) -> dict[str, Any]:
    """A prediction request for the demo's last race, under a race id the ledger has not seen."""
    races = pd.read_parquet(workdir / "data" / "races.parquet")
    race_id = sorted(races["race_id"].unique())[-1]
    race = races.loc[races["race_id"] == race_id].sort_values("pit")
    first = race.iloc[0]
    return {
        "race_id": f"after-demo-{race_id}",
        "race_date": first["race_date"].date().isoformat(),
        "venue_code": int(first["venue_code"]),
        "race_number": int(first["race_number"]),
        "entries": [
            {
                "pit": int(r.pit),
                "racer_id": int(r.racer_id),
                "racer_class": str(r.racer_class),
                "national_win_rate": float(r.national_win_rate),
                "local_win_rate": float(r.local_win_rate),
                "motor_2rate": float(r.motor_2rate),
                "boat_2rate": float(r.boat_2rate),
                "exhibition_time": float(r.exhibition_time),
                "avg_start_timing": float(r.avg_start_timing),
            }
            for r in race.itertuples()
        ],
    }


def test_serve_in_the_demo_directory_is_ready_and_answers_with_the_production_model(
    small_demo: Demo, tmp_path: Path
) -> None:
    result, _ = small_demo
    workdir = tmp_path / "demo"
    shutil.copytree(result.workdir, workdir)
    production = json.loads((workdir / "models" / "registry.json").read_text(encoding="utf-8"))["production"]
    # the challenger that did not finish its ramp was stopped before its slot went to the next model
    good = GradualRollout(workdir / "config" / "rollout_config.json").feature("challenger_model")
    assert good.stage.name == "disabled"
    with _serve_in(workdir) as base:
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.json()
        assert ready.json()["warnings"] == []
        answer = httpx.post(f"{base}/v1/races/predict", json=_request_for_a_new_race(workdir), timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == {"role": "champion", "version": production, "variant": "control"}


def test_monitor_drift_has_a_reference_sample_after_the_demo(small_demo: Demo) -> None:
    result, _ = small_demo
    last_day = result.degraded_run[-1].day
    drift = runner.invoke(cli_app, [
        "monitor", "drift", "--db", str(result.workdir / "data" / "monitor.db"), "--end-date", last_day,
        "--no-alert", "--json",
    ])  # fmt: skip
    assert drift.exit_code == 0, drift.output
    report = json.loads(drift.stdout)
    assert report["n_reference"] > 1000
    assert report["n_current"] > 1000
    assert len(report["features"]) == 18


def test_every_dashboard_section_shows_real_content_from_the_workdir_alone(
    small_demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, _ = small_demo
    workdir = tmp_path / "demo"
    shutil.copytree(result.workdir, workdir)
    captured: dict[str, Any] = {}

    def fake_execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        captured.update(path=path, argv=argv, env=env)

    monkeypatch.setattr(os, "execve", fake_execve)
    started = runner.invoke(cli_app, ["dashboard", "--workdir", str(workdir), "--port", "8765"])
    assert started.exit_code == 0, started.output
    settings = DashboardSettings.from_env(captured["env"])
    assert settings == DashboardSettings(
        db=str(workdir / "data" / "monitor.db"),
        config=str(workdir / "config" / "rollout_config.json"),
        models=str(workdir / "models"),
        backtest_dir=str(workdir / "backtest"),
    )
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    app = str(Path(stagewise.dashboard.__file__).parent / "app.py")
    at = AppTest.from_file(app, default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    # no section fell back to a message: each one found and read its source
    assert [w.value for w in at.warning] == []
    assert [i.value for i in at.info] == []
    assert [e.value for e in at.error] == []
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Races settled"]) > 0
    assert int(metrics["Steps"]) > 0
    assert "Drifted features" in metrics
    # the challenger cohort's own alerts (the degraded model's days) fill the alert history
    history = next(t for t in [df.value for df in at.dataframe] if "alert_type" in t.columns and len(t))
    assert "variant" in " ".join(str(v) for v in history["segment"])
    tables = [df.value for df in at.dataframe]
    drift = next(t for t in tables if "drifted" in t.columns)
    assert len(drift) == 18
    assert (drift["n_reference"] > 1000).all()
    stages = next(t for t in tables if "completed" in t.columns)
    assert set(stages["feature"]) == {"challenger_model", "degraded_model"}
    assert "Audit chain verified" in " ".join(str(m.value) for m in at.markdown)
