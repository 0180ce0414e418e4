"""A real ``stagewise serve`` (uvicorn, 2 workers) on 127.0.0.1: predict, results, metrics, SIGTERM drain."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from serve_support import TOKEN, count_predictions, race_payloads, request_body, uvicorn_server

from process_support import output_of
from stagewise.rollout import GradualRollout


def test_end_to_end_with_two_workers_and_sigterm_drain(models_dir: Path, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'ledger' / 'monitor.db'}"
    config = tmp_path / "config" / "rollout_config.json"
    GradualRollout(config, actor="test").add_feature("challenger_model", "50%", reason="e2e")
    payloads = race_payloads(80, prefix="e2e-")
    args = [
        "--workers",
        "2",
        "--models",
        str(models_dir),
        "--db",
        db_url,
        "--config",
        str(config),
        "--reload-interval",
        "0.5",
    ]
    with uvicorn_server(args, env={"STAGEWISE_ADMIN_TOKEN": TOKEN}) as (base, proc):
        with httpx.Client(base_url=base, timeout=30.0) as http:
            assert http.get("/readyz").status_code == 200

            def predict(p: dict[str, Any]) -> httpx.Response:
                return http.post("/v1/races/predict", json=request_body(p))

            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(predict, payloads))
            assert [a.status_code for a in answers] == [200] * 80
            roles = {a.json()["model"]["role"] for a in answers}
            assert roles == {"champion", "challenger"}
            rollout = GradualRollout(config)
            for p, a in zip(payloads, answers, strict=True):
                enabled = rollout.should_enable_feature("challenger_model", p["race_id"])
                assert a.json()["model"]["role"] == ("challenger" if enabled else "champion")
            # a result for a race whose prediction may still sit in the other worker's queue: retry on 404
            for _ in range(50):
                result = http.post(
                    "/v1/results", json={"race_id": payloads[0]["race_id"], "results": payloads[0]["_result"]}
                )
                if result.status_code != 404:
                    break
            assert result.status_code == 200, result.text
            for _ in range(4):  # whichever worker takes the scrape, it reports both workers' counts
                families = {f.name: f for f in text_string_to_metric_families(http.get("/metrics").text)}
                answered = [
                    s.value
                    for s in families["stagewise_predictions"].samples
                    if s.labels["mode"] == "answered"
                ]
                assert sum(answered) == 80
                requests = families["stagewise_http_requests"].samples
                ok = [
                    s.value
                    for s in requests
                    if s.labels["route"] == "/v1/races/predict" and s.labels["status"] == "200"
                ]
                assert sum(ok) == 80
            staged = http.post(
                "/admin/stage",
                json={"stage": "disabled", "reason": "e2e done"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert staged.status_code == 200
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
        output = output_of(proc)
    assert proc.returncode == 0, output
    assert output.count("ledger queue drained (0 not written)") == 2, output
    # every answered prediction is in the ledger, logged by whichever worker answered it
    assert count_predictions(db_url) == 80
    audit = GradualRollout(config).audit_log()
    assert audit[-1]["actor"] == "api"
    assert audit[-1]["reason"] == "e2e done"
