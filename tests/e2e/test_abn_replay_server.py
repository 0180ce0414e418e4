"""A/B/n end to end through a real server: three variants, one harmful, one better, one equal.

Small race models are trained and registered (a champion that ignores the lane, an "equal" one of the same
recipe, a "better" one that sees the lane, a "harmful" one trained to pick the boat that finishes last);
``stagewise serve`` runs on 127.0.0.1 with a 3-variant split at 50 %; simulated days of races are sent over
HTTP, their results posted, and the controller runs every morning on the ledger the server wrote. The
harmful variant is rolled back, the better one promoted, and every ledger row's variant is what
``GradualRollout.variant(feature, race_id)`` said when the race was served.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from process_support import cli_process
from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller_query import ControllerQuery
from stagewise.rollout.controller_runner import run_controller

pytestmark = pytest.mark.slow

FEATURE = "race_model"
SPLIT = {"harmful": 1 / 3, "equal": 1 / 3, "better": 1 / 3}
SMALL = {"n_estimators": 8}
FIRST = date(2025, 4, 1)
VENUES = None  # every venue: about 140 races a day


def _registry(root: Path) -> dict[str, str]:
    """Four small race models; returns variant (and "champion") -> registry version."""
    from stagewise.data import simulate_races
    from stagewise.features.races import race_entry_features
    from stagewise.models import ModelRegistry, ProductionEnsemble

    races = simulate_races("2025-01-01", "2025-01-10", seed=0, venues=[1, 2, 3, 4, 5, 6])
    X = race_entry_features(races)
    finish = races["finish_position"]
    won = (finish == 1).fillna(False).astype(int)
    last = (finish == 6).fillna(False).astype(int)
    # the lane-blind recipe: the pit column shuffled across rows, so the model cannot use the lane
    blind = X.assign(pit=np.random.default_rng(0).permutation(X["pit"].to_numpy()))

    def fit(seed: int, features: pd.DataFrame, y: pd.Series) -> Any:
        model = ProductionEnsemble(random_state=seed, lgbm_params=SMALL, xgb_params=SMALL, rf_params=SMALL)
        return model.fit(features, y)

    registry = ModelRegistry(root)
    versions = {
        "champion": registry.save(fit(0, blind, won), notes="lane-blind champion"),
        "equal": registry.save(fit(1, blind, won), notes="lane-blind, another seed"),
        "better": registry.save(fit(2, X, won), notes="sees the lane"),
        "harmful": registry.save(fit(3, X, last), notes="picks the boat most likely to finish last"),
    }
    registry.promote(versions["champion"])
    return versions


def _payloads(day: date) -> list[dict[str, Any]]:
    """The day's races as predict requests, each with its result under ``_result``."""
    from stagewise.data import simulate_races

    races = simulate_races(day, day, seed=day.toordinal(), venues=VENUES)
    out = []
    for race_id, race in races.groupby("race_id", sort=True):
        first = race.iloc[0]
        entries = [
            {
                "pit": int(r.pit), "racer_id": int(r.racer_id), "racer_class": str(r.racer_class),
                "national_win_rate": float(r.national_win_rate), "local_win_rate": float(r.local_win_rate),
                "motor_2rate": float(r.motor_2rate), "boat_2rate": float(r.boat_2rate),
                "exhibition_time": float(r.exhibition_time), "avg_start_timing": float(r.avg_start_timing),
            }
            for r in race.sort_values("pit").itertuples()
        ]  # fmt: skip
        result = [
            {"pit": int(r.pit), "rank": int(r.finish_position)}
            if r.status == "finished"
            else {"pit": int(r.pit), "status": str(r.status)}
            for r in race.itertuples()
        ]
        out.append({
            "race_id": f"abn-{race_id}", "race_date": day.isoformat(), "venue_code": int(first["venue_code"]),
            "race_number": int(first["race_number"]), "entries": entries, "_result": result,
        })  # fmt: skip
    return out


def _settled_rows(db_url: str, day: date, expected: int, timeout: float = 60.0) -> pd.DataFrame:
    """The day's ledger rows once every race is logged and none is pending (the server logs from a queue)."""
    deadline = time.monotonic() + timeout
    while True:
        with PerformanceMonitor(db_url) as monitor:
            rows = monitor.race_outcomes(day, day, rollout_feature=FEATURE)
        if len(rows) >= expected and not (rows["status"] == "pending").any():
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"{day}: {len(rows)} of {expected} rows, {rows['status'].value_counts()}")
        time.sleep(0.2)


def test_the_harmful_variant_is_rolled_back_and_the_better_promoted_through_a_real_server(
    tmp_path: Path,
) -> None:
    root = tmp_path / "models"
    versions = _registry(root)
    config = tmp_path / "config" / "rollout_config.json"
    clock = {"now": datetime(2025, 3, 31, 9, tzinfo=UTC)}
    rollout = GradualRollout(config, now=lambda: clock["now"], refresh_interval=0, actor="ops")
    rollout.add_feature(FEATURE, "50%", salt=f"{FEATURE}:e2e", reason="A/B/n of three race models")
    rollout.set_variants(FEATURE, SPLIT, reason="three candidates")
    db_url = f"sqlite:///{tmp_path / 'ledger' / 'monitor.db'}"
    args = [
        "serve", "--models", str(root), "--db", db_url, "--config", str(config), "--feature", FEATURE,
        "--reload-interval", "0.2", *[a for v in SPLIT for a in ("--variant", f"{v}={versions[v]}")],
        # no access log: nobody reads the process's output pipe until it stops, and a full pipe blocks it
        "--log-level", "warning",
    ]  # fmt: skip
    served_by: dict[str, str] = {"control": versions["champion"], **{v: versions[v] for v in SPLIT}}
    history: list[dict[str, str]] = []
    with cli_process(args, health="/healthz") as (base, _), httpx.Client(base_url=base, timeout=60.0) as http:
        assert http.get("/readyz").status_code == 200

        def predict(payload: dict[str, Any]) -> dict[str, Any]:
            response = http.post("/v1/races/predict", json={k: v for k, v in payload.items() if k[0] != "_"})
            assert response.status_code == 200, response.text
            return dict(response.json())

        def settle(payload: dict[str, Any]) -> None:
            body = {"race_id": payload["race_id"], "results": payload["_result"]}
            response = http.post("/v1/results", json=body)
            assert response.status_code == 200, response.text

        with ThreadPoolExecutor(max_workers=4) as pool:
            for k in range(20):  # promoted on day 12 when measured; the loop stops there
                day = FIRST + timedelta(days=k)
                payloads = _payloads(day)
                expected = {p["race_id"]: rollout.variant(FEATURE, p["race_id"]) for p in payloads}
                answers = list(pool.map(predict, payloads))
                for answer in answers:  # the server routes each race exactly as the rollout says
                    assert answer["model"]["variant"] == expected[answer["race_id"]]
                    assert answer["model"]["version"] == served_by[expected[answer["race_id"]]]
                list(pool.map(settle, payloads))
                rows = _settled_rows(db_url, day, len(payloads))
                logged = dict(zip(rows["race_id"], rows["variant"], strict=True))
                assert logged == expected  # every ledger row's variant is GradualRollout.variant's
                clock["now"] = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
                clock["now"] += timedelta(hours=6)
                with PerformanceMonitor(db_url) as monitor:
                    decision = run_controller(rollout, monitor, ControllerQuery(FEATURE, now=clock["now"]))
                variants = decision.numbers.get("variants") or {}
                history.append({v: d["action"] for v, d in variants.items()})
                if decision.numbers.get("promoted"):
                    break
                time.sleep(1.0)  # five reload intervals: the server has the config the controller wrote

    rolled = [i for i, day in enumerate(history) if day.get("harmful") == "rollback"]
    promoted = [i for i, day in enumerate(history) if day.get("better") == "promote"]
    assert rolled, history
    assert promoted, history
    assert rolled[0] < promoted[0], history
    assert all(day.get("equal") != "promote" for day in history), history
    state = rollout.feature(FEATURE)
    assert state.stage.name == "100%"
    assert state.extra["variants"] == {"better": 1.0}
    records = rollout.decisions(FEATURE)
    assert {r.variant for r in records} == set(SPLIT)
    assert next(r for r in records if r.action == "rollback").variant == "harmful"
