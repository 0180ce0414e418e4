"""Two serving hosts, one state: two `stagewise serve` processes on one PostgreSQL ledger and rollout store.

Each host is a separate process on its own port of 127.0.0.1, as two machines behind a load balancer
would be. A stage change or the kill switch made through host A's admin route must reach host B within
its reload interval, and every prediction either host answered must be in the shared ledger.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_support import TOKEN, count_predictions, race_payloads, request_body, uvicorn_server
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from process_support import output_of
from stagewise.rollout import GradualRollout

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

FEATURE = "challenger_model"
RELOAD_S = 0.5
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def shared_db(pg_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema holding both the ledger and the rollout store."""
    schema = f"hosts_{uuid.uuid4().hex[:10]}"
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def _role_until(
    http: httpx.Client, payloads: list[dict[str, Any]], role: str, deadline: float, tag: str
) -> float:
    """Seconds until every payload is answered by ``role`` (new race ids each poll); fails at ``deadline``."""
    start = time.monotonic()
    round_ = 0
    while True:
        round_ += 1
        roles = set()
        for p in payloads:
            body = {**request_body(p), "race_id": f"{p['race_id']}-{tag}{round_}"}
            answer = http.post("/v1/races/predict", json=body)
            assert answer.status_code == 200, answer.text
            roles.add(answer.json()["model"]["role"])
        if roles == {role}:
            return time.monotonic() - start
        assert time.monotonic() < deadline, f"host still answers with {roles}, wanted only {role}"
        time.sleep(0.05)


def test_two_hosts_share_stage_kill_switch_and_ledger(models_dir: Path, shared_db: str) -> None:
    GradualRollout(db_url=shared_db, actor="test").add_feature(FEATURE, "50%", reason="two hosts")
    args = ["--models", str(models_dir), "--db", shared_db, "--config", shared_db]
    args += ["--feature", FEATURE, "--reload-interval", str(RELOAD_S)]
    payloads = race_payloads(120, prefix="hosts-")
    env = {"STAGEWISE_ADMIN_TOKEN": TOKEN}
    with (
        uvicorn_server(args, env=env, timeout=300) as (base_a, proc_a),
        uvicorn_server(args, env=env, timeout=300) as (base_b, proc_b),
        httpx.Client(base_url=base_a, timeout=60) as host_a,
        httpx.Client(base_url=base_b, timeout=60) as host_b,
    ):
        # both hosts at once, half of the races each: one routing rule, one ledger
        def predict(item: tuple[int, dict[str, Any]]) -> httpx.Response:
            i, p = item
            return (host_a if i % 2 else host_b).post("/v1/races/predict", json=request_body(p))

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(predict, enumerate(payloads)))
        assert [a.status_code for a in answers] == [200] * len(payloads)
        rollout = GradualRollout(db_url=shared_db)
        for p, a in zip(payloads, answers, strict=True):
            enabled = rollout.should_enable_feature(FEATURE, p["race_id"])
            assert a.json()["model"]["role"] == ("challenger" if enabled else "champion")
        enabled_races = [p for p in payloads if rollout.should_enable_feature(FEATURE, p["race_id"])][:3]

        # a stage change through A is what B routes by after one reload interval
        staged = host_a.post("/admin/stage", json={"stage": "100%", "reason": "ramp"}, headers=ADMIN)
        assert staged.status_code == 200, staged.text
        _role_until(host_b, payloads[:6], "challenger", time.monotonic() + RELOAD_S + 30, "ramp")

        # the kill switch pulled on A sends every race on B to the champion
        killed = host_a.post("/admin/kill", json={"reason": "incident drill"}, headers=ADMIN)
        assert killed.status_code == 200, killed.text
        seen_after = _role_until(host_b, enabled_races, "champion", time.monotonic() + RELOAD_S + 30, "kill")
        print(f"kill on host A seen on host B after {seen_after:.2f} s (reload interval {RELOAD_S} s)")
        answered_a = _answered(host_a)
        answered_b = _answered(host_b)
    for proc in (proc_a, proc_b):
        output = output_of(proc)
        assert "ledger queue drained (0 not written)" in output, output
    # both hosts drained on SIGTERM: every prediction either answered is in the shared ledger
    assert answered_a > 0
    assert answered_b > 0
    assert count_predictions(shared_db) == answered_a + answered_b
    audit = GradualRollout(db_url=shared_db).audit_log()
    assert [e["reason"] for e in audit[-2:]] == ["ramp", "incident drill"]


def _answered(http: httpx.Client) -> int:
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name: f for f in text_string_to_metric_families(http.get("/metrics").text)}
    return int(
        sum(
            s.value
            for s in families["stagewise_predictions"].samples
            if s.name.endswith("_total") and s.labels["mode"] == "answered"
        )
    )
