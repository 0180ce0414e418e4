"""Routing by the rollout: deterministic across app instances, reloads without restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from serve_support import TestClient, race_payloads, request_body

from stagewise.models import ModelRegistry
from stagewise.rollout import GradualRollout
from stagewise.serve import ServeSettings, create_app


def _roles(client: TestClient, payloads: list[dict[str, Any]]) -> list[str]:
    out = []
    for p in payloads:
        answer = client.post("/v1/races/predict", json=request_body(p))
        assert answer.status_code == 200, answer.text
        out.append(answer.json()["model"]["role"])
    return out


def test_two_app_instances_route_every_race_the_same_way(
    make_settings: Callable[..., ServeSettings], tmp_path: Any, versions: dict[str, str]
) -> None:
    settings = make_settings()
    rollout = GradualRollout(settings.rollout_config, actor="test")
    rollout.add_feature(settings.feature, "50%", reason="canary")
    payloads = race_payloads(60, prefix="route-")
    other = settings.model_copy(update={"db_url": f"sqlite:///{tmp_path / 'other.db'}"})
    with (
        TestClient(create_app(settings, admin_token=None)) as a,
        TestClient(create_app(other, admin_token=None)) as b,
    ):
        first, second = _roles(a, payloads), _roles(b, list(reversed(payloads)))
        again = _roles(a, payloads)
    assert first == list(reversed(second)) == again
    assert 15 <= first.count("challenger") <= 45  # 50 % of 60 races, by the salted hash
    expected = [
        "challenger" if rollout.should_enable_feature(settings.feature, p["race_id"]) else "champion"
        for p in payloads
    ]
    assert first == expected


def test_stage_changes_and_the_kill_switch_reach_a_running_server(
    make_settings: Callable[..., ServeSettings],
) -> None:
    settings = make_settings(reload_interval_s=0.1)
    operator = GradualRollout(settings.rollout_config, actor="ops", refresh_interval=0)
    operator.add_feature(settings.feature, "disabled", reason="prepare")
    payloads = race_payloads(20, prefix="ramp-")
    with TestClient(create_app(settings, admin_token=None)) as client:
        assert set(_roles(client, payloads)) == {"champion"}
        operator.update_rollout_stage(settings.feature, "100%", reason="all in")  # another process
        time.sleep(0.3)
        assert set(_roles(client, payloads)) == {"challenger"}
        operator.kill(settings.feature, reason="bad numbers")
        time.sleep(0.3)
        assert set(_roles(client, payloads)) == {"champion"}


def test_alias_moves_are_served_without_a_restart(
    make_settings: Callable[..., ServeSettings], models_dir: Any, versions: dict[str, str]
) -> None:
    settings = make_settings(reload_interval_s=0.1)
    payload = request_body(race_payloads(1, prefix="alias-")[0])
    with TestClient(create_app(settings, admin_token=None)) as client:
        assert (
            client.post("/v1/races/predict", json=payload).json()["model"]["version"] == versions["champion"]
        )
        ModelRegistry(models_dir).promote(versions["challenger"])  # challenger becomes champion
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = client.post("/v1/races/predict", json=payload).json()
            if answer["model"]["version"] == versions["challenger"]:
                break
            time.sleep(0.05)
        assert answer["model"] == {
            "role": "champion",
            "version": versions["challenger"],
            "variant": "control",
        }
        assert client.get("/readyz").json()["models"]["champion"]["version"] == versions["challenger"]
        text = client.get("/metrics").text
        assert f'stagewise_model_loaded{{role="champion",version="{versions["challenger"]}"}} 1.0' in text
        assert f'stagewise_model_loaded{{role="champion",version="{versions["champion"]}"}} 0.0' in text


def test_challenger_routing_without_a_challenger_falls_back_and_is_not_ready(
    make_settings: Callable[..., ServeSettings], versions: dict[str, str]
) -> None:
    settings = make_settings(challenger_ref="missing-alias")
    GradualRollout(settings.rollout_config, actor="test").add_feature(settings.feature, "100%", reason="x")
    with TestClient(create_app(settings, admin_token=None)) as client:
        assert set(_roles(client, race_payloads(5, prefix="fb-"))) == {"champion"}
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "no challenger is loaded" in " ".join(ready.json()["reasons"])
