"""A server and the rollout controller work together with their defaults: the ledger variants agree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from serve_support import TestClient, race_payloads, request_body

from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller_runner import run_controller
from stagewise.serve import ServeSettings, create_app


def test_races_the_server_routes_to_the_challenger_are_the_controllers_challenger_cohort(
    make_settings: Callable[..., ServeSettings],
) -> None:
    settings = make_settings()
    payloads = race_payloads(60, prefix="ctl-")
    race_day = payloads[0]["race_date"]
    assert {p["race_date"] for p in payloads} == {race_day}
    opened = datetime.fromisoformat(f"{race_day}T06:00:00+09:00")
    rollout = GradualRollout(settings.rollout_config, now=lambda: opened, refresh_interval=0, actor="ops")
    rollout.add_feature(settings.feature, "50%", reason="canary")

    with TestClient(create_app(settings, admin_token=None)) as client:
        roles: dict[str, str] = {}
        for payload in payloads:
            body = client.post("/v1/races/predict", json=request_body(payload)).json()
            roles[payload["race_id"]] = body["model"]["role"]
            expected = "on" if body["model"]["role"] == "challenger" else "control"
            assert (
                body["model"]["variant"] == expected == rollout.variant(settings.feature, payload["race_id"])
            )
            result = {"race_id": payload["race_id"], "results": payload["_result"]}
            assert client.post("/v1/results", json=result).status_code == 200
    served = sum(role == "challenger" for role in roles.values())
    assert 10 <= served <= 50

    next_morning = opened + timedelta(days=1)  # the controller's daily run, defaults only
    with PerformanceMonitor(settings.db_url) as monitor:
        decision = run_controller(rollout, monitor, settings.feature, now=next_morning, dry_run=True)
    numbers = decision.numbers
    assert numbers["groups"] == {"challenger": "on", "control": "control"}
    assert numbers["srm"]["counts"] == {"on": served, "control": len(payloads) - served}
    assert numbers["srm"]["verdict"] != "hold"
    settled = numbers["cumulative"]["challenger"]["races"]  # a void race is neither hit nor miss
    assert served - 3 <= settled <= served
    assert numbers["days"][0]["date"] == race_day
