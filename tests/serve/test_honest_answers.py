"""The server never claims what did not happen: race identity conflicts, outages without secrets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from serve_support import TOKEN, TestClient, count_predictions, free_port, race_payloads, request_body

from stagewise.serve import ServeSettings, create_app

ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def _moved(payload: dict[str, Any], **change: Any) -> dict[str, Any]:
    return {**request_body(payload), **change}


def test_a_race_id_sent_again_with_another_identity_is_409_with_the_stored_race(
    make_settings: Callable[..., ServeSettings],
) -> None:
    settings = make_settings()
    payload = race_payloads(1, prefix="dup-")[0]
    with TestClient(create_app(settings, admin_token=None)) as client:
        first = client.post("/v1/races/predict", json=request_body(payload))
        assert (first.status_code, first.json()["logged"]) == (200, True)
        again = client.post("/v1/races/predict", json=request_body(payload))
        assert (again.status_code, again.json()["logged"]) == (200, True)  # the same race: fine
        other_day = client.post("/v1/races/predict", json=_moved(payload, race_date="2025-03-02"))
        other_venue = client.post(
            "/v1/races/predict", json=_moved(payload, venue_code=payload["venue_code"] % 24 + 1)
        )
        client.app.state.service.queue.flush(timeout=30.0)  # type: ignore[attr-defined]
    stored = {k: payload[k] for k in ("race_id", "race_date", "venue_code", "race_number")}
    for answer in (other_day, other_venue):
        assert answer.status_code == 409
        body = answer.json()
        assert body["detail"] == [stored]
        assert "already logged" in body["message"]
        assert "logged" not in body
    assert count_predictions(settings.db_url or "") == 1


def test_a_new_server_process_finds_the_conflict_in_the_ledger(
    make_settings: Callable[..., ServeSettings],
) -> None:
    settings = make_settings()
    payload = race_payloads(1, prefix="restart-")[0]
    with TestClient(create_app(settings, admin_token=None)) as client:
        assert client.post("/v1/races/predict", json=request_body(payload)).status_code == 200
    with TestClient(create_app(settings, admin_token=None)) as fresh:  # nothing remembered in memory
        answer = fresh.post(
            "/v1/races/predict", json=_moved(payload, race_number=payload["race_number"] % 12 + 1)
        )
    assert answer.status_code == 409
    assert answer.json()["detail"][0]["race_number"] == payload["race_number"]


@pytest.fixture
def unreachable_url() -> str:
    return f"postgresql+psycopg://ledger_owner_x:pw@127.0.0.1:{free_port()}/ledger_db_x?connect_timeout=2"


def test_while_the_database_is_down_unauthenticated_bodies_name_no_user_host_or_port(
    make_settings: Callable[..., ServeSettings], unreachable_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = unreachable_url.split(":")[3].split("/")[0]
    secrets = ("ledger_owner_x", "127.0.0.1", port, "ledger_db_x")
    payload = race_payloads(1, prefix="down-")[0]
    results = {"race_id": payload["race_id"], "results": payload["_result"]}
    with TestClient(create_app(make_settings(db_url=unreachable_url), admin_token=TOKEN)) as client:
        ready = client.get("/readyz")
        answered = client.post("/v1/results", json=results)
        status = client.get("/admin/status", headers=ADMIN)
        admin_results = client.post("/v1/results", json=results, headers=ADMIN)
    assert ready.status_code == 503
    assert "database unreachable" in ready.json()["reasons"]
    assert answered.status_code == 503
    assert answered.json()["message"] == "database unreachable"
    for public in (ready.text, answered.text):
        for secret in secrets:
            assert secret not in public, (secret, public)
    assert status.status_code == 200
    assert port in status.json()["database_error"]
    assert port in admin_results.text
    assert any(port in record.getMessage() for record in caplog.records)
