"""Admin routes: bearer token in constant time, 401/403 change nothing, every change audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from serve_support import TOKEN, TestClient

from stagewise.rollout import GradualRollout
from stagewise.serve import ServeSettings, create_app

ROUTES = [
    ("/admin/stage", {"stage": "50%", "reason": "canary"}),
    ("/admin/kill", {"reason": "stop"}),
    ("/admin/reload", {"reason": "new alias"}),
]


def _audit(settings: ServeSettings) -> list[dict[str, Any]]:
    return GradualRollout(settings.rollout_config).audit_log()


@pytest.mark.parametrize(("route", "body"), ROUTES, ids=[r for r, _ in ROUTES])
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({}, 401, id="no-header"),
        pytest.param({"Authorization": "Basic abc"}, 401, id="not-bearer"),
        pytest.param({"Authorization": "Bearer "}, 401, id="empty-token"),
        pytest.param({"Authorization": "Bearer wrong"}, 403, id="wrong-token"),
        pytest.param({"Authorization": f"Bearer {TOKEN}x"}, 403, id="token-prefix"),
    ],
)
def test_refused_requests_change_nothing(
    client: TestClient, route: str, body: dict[str, Any], headers: dict[str, str], status: int
) -> None:
    settings = client.app.state.service.settings  # type: ignore[attr-defined]
    before = _audit(settings)
    answer = client.post(route, json=body, headers=headers)
    assert answer.status_code == status
    if status == 401:
        assert answer.headers["www-authenticate"] == "Bearer"
    assert _audit(settings) == before


def test_admin_routes_are_disabled_without_a_server_token(
    make_settings: Callable[..., ServeSettings],
) -> None:
    settings = make_settings()
    with TestClient(create_app(settings, admin_token=None)) as client:
        answer = client.post(
            "/admin/stage", json={"stage": "10%", "reason": "x"}, headers={"Authorization": "Bearer x"}
        )
    assert answer.status_code == 403
    assert "STAGEWISE_ADMIN_TOKEN" in answer.json()["message"]
    assert _audit(settings) == []


def test_the_token_comes_from_the_environment(
    make_settings: Callable[..., ServeSettings], monkeypatch: Any
) -> None:
    monkeypatch.setenv("STAGEWISE_ADMIN_TOKEN", "from-env")
    with TestClient(create_app(make_settings())) as client:
        ok = client.post(
            "/admin/stage", json={"stage": "10%", "reason": "x"}, headers={"Authorization": "Bearer from-env"}
        )
    assert ok.status_code == 200


def test_stage_kill_and_reload_are_audited_as_api(client: TestClient) -> None:
    settings = client.app.state.service.settings  # type: ignore[attr-defined]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    staged = client.post("/admin/stage", json={"stage": "50%", "reason": "canary"}, headers=auth)
    assert staged.status_code == 200, staged.text
    assert staged.json()["state"]["stage"] == "50%"
    raised = client.post("/admin/stage", json={"stage": "100%", "reason": "healthy"}, headers=auth)
    assert raised.json()["audit"]["old_stage"] == "50%"
    killed = client.post("/admin/kill", json={"reason": "incident 42"}, headers=auth)
    assert killed.status_code == 200
    assert killed.json()["killed"] == [settings.feature]
    reloaded = client.post("/admin/reload", json={"reason": "picked up"}, headers=auth)
    assert reloaded.status_code == 200
    assert set(reloaded.json()["models"]) == {
        "champion",
        "challenger",
        "market",
    }
    log = _audit(settings)
    assert [e["action"] for e in log] == ["add_feature", "set_stage", "kill", "reload_models"]
    assert {e["actor"] for e in log} == {"api"}
    assert [e["reason"] for e in log] == ["canary", "healthy", "incident 42", "picked up"]
    assert GradualRollout(settings.rollout_config).verify_audit().ok
    assert GradualRollout(settings.rollout_config).feature(settings.feature).stage.name == "disabled"


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/admin/stage", {"stage": "50%"}, "reason"),
        ("/admin/stage", {"stage": "50%", "reason": "   "}, "reason"),
        ("/admin/kill", {}, "reason"),
        ("/admin/reload", {"reason": ""}, "reason"),
        ("/admin/stage", {"stage": "250%", "reason": "x"}, "stage"),
    ],
)
def test_admin_input_errors_are_422_and_change_nothing(
    client: TestClient, route: str, body: dict[str, Any], field: str
) -> None:
    settings = client.app.state.service.settings  # type: ignore[attr-defined]
    answer = client.post(route, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["message"].lower()
    assert _audit(settings) == []


def test_killing_an_unknown_feature_is_404(client: TestClient) -> None:
    answer = client.post(
        "/admin/kill", json={"reason": "x", "feature": "nope"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 404
    assert "nope" in answer.json()["message"]
