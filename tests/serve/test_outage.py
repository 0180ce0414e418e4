"""A ledger outage while the server answers: nothing is lost, the backlog is written on recovery."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from serve_support import TestClient, count_predictions, race_payloads, request_body
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from stagewise.monitor import PerformanceMonitor
from stagewise.serve import ServeSettings, create_app


def test_sqlite_locked_by_another_process_then_released(make_settings: Callable[..., ServeSettings]) -> None:
    settings = make_settings()
    url = settings.db_url or ""
    PerformanceMonitor(url).close()  # the ledger exists before the outage
    payloads = race_payloads(40, prefix="lock-")
    with TestClient(create_app(settings, admin_token=None)) as client:
        blocker = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # every other writer now waits
        try:
            answers = [client.post("/v1/races/predict", json=request_body(p)) for p in payloads]
            assert [a.status_code for a in answers] == [200] * 40
            assert all(a.json()["logged"] for a in answers)
            queue = client.app.state.service.queue  # type: ignore[attr-defined]
            assert queue.stats().pending == 40  # answered, not yet written
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert queue.flush(timeout=60.0)
    assert count_predictions(url) == 40


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database (not a schema: connections to it can be switched off)."""
    name = f"sw_serve_{secrets.token_hex(4)}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _set_connections(pg_url: str, name: str, allowed: bool) -> None:
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
        if not allowed:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
    admin.dispose()


@pytest.mark.postgres
def test_postgres_refusing_connections_then_back(
    make_settings: Callable[..., ServeSettings], pg_url: str, pg_database: str, caplog: Any
) -> None:
    settings = make_settings(db_url=pg_database, retry_max_backoff_s=0.2)
    name = make_url(pg_database).database or ""
    first, during = race_payloads(60, prefix="pg-")[:20], race_payloads(60, prefix="pg-")[20:]
    with TestClient(create_app(settings, admin_token=None)) as client:
        queue = client.app.state.service.queue  # type: ignore[attr-defined]
        assert all(client.post("/v1/races/predict", json=request_body(p)).status_code == 200 for p in first)
        assert queue.flush(timeout=30.0)
        _set_connections(pg_url, name, allowed=False)
        try:
            answers = [client.post("/v1/races/predict", json=request_body(p)) for p in during]
            assert [a.status_code for a in answers] == [200] * 40
            deadline = time.monotonic() + 20
            while queue.stats().failures == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert queue.stats().failures > 0
            assert queue.stats().pending == 40
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert "database unreachable" in " ".join(ready.json()["reasons"])
        finally:
            _set_connections(pg_url, name, allowed=True)
        assert queue.flush(timeout=60.0)
        assert client.get("/readyz").status_code == 200
    assert count_predictions(pg_database) == 60
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert any("recovered" in r.getMessage() for r in caplog.records)
