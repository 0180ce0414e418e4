"""The analysis endpoint replays the demo's 21 days: each morning it answers what the controller then does.

A real server (uvicorn on 127.0.0.1) reads the same ledger and rollout config as the replay; its
clock follows the replay's. Each morning, just before the controller decides, the test asks the
endpoint (and both gate modes), then compares with the controller's action of that morning.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from analysis_support import argo_condition, threaded_server

from stagewise.data import simulate_races
from stagewise.features.races import race_entry_features
from stagewise.lifecycle.demo import CHALLENGER_WEIGHTS, DEFAULT_DAYS, HEALTH_WINDOW_DAYS, TRAIN_DAYS
from stagewise.lifecycle.replay import DayOutcome, replay_days
from stagewise.models import ProductionEnsemble
from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout
from stagewise.serve import ServeSettings, create_app

TINY = {k: {"n_estimators": 8} for k in ("lgbm_params", "xgb_params", "rf_params")}
SUCCESS = 'result.verdict == "success"'
FAILURE = 'result.verdict == "failure"'


def _fit(history: pd.DataFrame, *, weights: dict[str, float] | None = None, shuffle: bool = False) -> Any:
    labels = (history["finish_position"] == 1).fillna(False).astype(int).to_numpy()
    if shuffle:  # the demo's degraded challenger: it learned nothing
        labels = np.random.default_rng(7).permutation(labels)
    params: dict[str, Any] = dict(TINY)
    if weights is not None:
        params["weights"] = weights
    return ProductionEnsemble(random_state=0, **params).fit(race_entry_features(history), labels)


def _expected(day: DayOutcome, rolled_back_before: bool, body: dict[str, Any]) -> str:
    if day.action == "promote":
        return "success"
    if day.action == "rollback":
        return "failure"
    if day.action == "none":
        return "failure" if rolled_back_before and day.stage_before == "disabled" else "inconclusive"
    evaluated = [d for d in body["numbers"].get("days", []) if d["evaluated"]]
    healthy_at_full = day.stage_before == "100%" and evaluated and evaluated[-1]["health"] == "HEALTHY"
    return "success" if healthy_at_full else "inconclusive"


@pytest.mark.slow
def test_the_endpoint_equals_the_controllers_action_on_each_of_the_demos_days(
    make_settings: Callable[..., ServeSettings], tmp_path: Path
) -> None:
    days = DEFAULT_DAYS["races"]
    first = pd.Timestamp("2025-01-01")
    live_start = first + pd.Timedelta(days=TRAIN_DAYS)
    races = simulate_races(first, live_start + pd.Timedelta(days=2 * days - 1), seed=0)
    history = races.loc[races["race_date"] < live_start]
    live = races.loc[races["race_date"] >= live_start]
    live_days = sorted(live["race_date"].unique())
    champion = ("champion-v1", _fit(history))
    challenger = ("challenger-v1", _fit(history, weights=CHALLENGER_WEIGHTS))
    degraded = ("degraded-v1", _fit(history, shuffle=True))

    settings = make_settings()
    now = [datetime.combine(live_start.date(), datetime.min.time())]
    rollout = GradualRollout(settings.rollout_config, now=lambda: now[0], actor="demo")
    monitor = PerformanceMonitor(settings.db_url, notifiers=[], clock=lambda: now[0])
    app = create_app(settings)
    app.state.analysis.clock = lambda: now[0]
    asked: dict[tuple[str, str], dict[str, Any]] = {}
    runs: dict[str, list[DayOutcome]] = {}

    with threaded_server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        for feature, model, window in (
            ("challenger_model", challenger, live_days[:days]),
            ("degraded_model", degraded, live_days[days:]),
        ):
            rollout.add_feature(feature, "10%", salt=f"{feature}:0", reason="replay", actor="demo")

            def clock(moment: datetime, feature: str = feature) -> None:
                now[0] = moment
                if moment.hour == 6:  # the controller decides right after this, at the same time
                    answer = http.get(f"/v1/analysis/{feature}")
                    assert answer.status_code == 200, answer.text
                    body = answer.json()
                    gates = {
                        mode: http.post(
                            f"/v1/analysis/{feature}/gate?mode={mode}", json={"phase": "Progressing"}
                        )
                        for mode in ("promotion", "rollout")
                    }
                    asked[feature, body["decision_day"]] = {
                        "body": body,
                        "gates": {mode: r.status_code for mode, r in gates.items()},
                        "again": http.get(f"/v1/analysis/{feature}").headers["X-Stagewise-Cache"],
                    }

            runs[feature] = replay_days(
                live.loc[live["race_date"].isin(window)],
                rollout=rollout,
                monitor=monitor,
                feature=feature,
                champion=champion,
                challenger=model,
                clock=clock,
                days_after_rollback=1,
                health_window_days=HEALTH_WINDOW_DAYS,
            )
    monitor.close()
    rollout.close()

    assert len(runs["challenger_model"]) == days
    seen: set[str] = set()
    for feature, outcomes in runs.items():
        rolled_back = False
        for day in outcomes:
            morning = (pd.Timestamp(day.day) + pd.Timedelta(days=1)).date().isoformat()
            record = asked[feature, morning]
            body = record["body"]
            assert (body["action"], body["stage"]) == (day.action, day.stage_before), (feature, day.day)
            assert body["reasons"][-len(day.reasons) :] == list(day.reasons)
            expected = _expected(day, rolled_back, body)
            assert body["verdict"] == expected, (feature, day.day, day.action, body["reasons"])
            # Argo: the documented condition shape over the whole body
            assert argo_condition(SUCCESS, body) is (expected == "success")
            assert argo_condition(FAILURE, body) is (expected == "failure")
            # Flagger: confirm-promotion passes only a success; rollout hooks fail only on a failure
            assert (record["gates"]["promotion"] == 200) is (expected == "success")
            assert (record["gates"]["rollout"] == 200) is (expected != "failure")
            assert record["gates"]["promotion"] in (200, 412)
            assert record["again"] == "hit"  # the second ask the same morning is served from the cache
            seen.add(expected)
            rolled_back = rolled_back or day.action == "rollback"
    # the replay went through every verdict: the good challenger promoted, the degraded one rolled back
    assert [d.action for d in runs["challenger_model"]].count("promote") >= 1
    assert [d.action for d in runs["degraded_model"]].count("rollback") == 1
    assert seen == {"success", "failure", "inconclusive"}
