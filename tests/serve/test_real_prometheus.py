"""A real Prometheus (Debian's ``prometheus``) scrapes a real ``stagewise serve`` and runs the shipped rules.

Proves three things the unit tests cannot: every metric a rule or a dashboard panel names is in a
real scrape (as Prometheus stores it), every dashboard query is valid PromQL for this Prometheus,
and rules fire when their condition is created on the running server — a model version refused
at load (the challenger alias moved to a version with the wrong features) and the kill switch.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_support import TOKEN, free_port, race_payloads, request_body, uvicorn_server

from stagewise.models import ModelRegistry
from stagewise.monitor import PerformanceMonitor
from stagewise.ops import grafana_dashboard, metric_names, prometheus_rules, rules_text
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller_runner import run_controller
from stagewise.rollout.outcomes import MemoryOutcomes

pytestmark = pytest.mark.slow

BINARIES = ("prometheus", "promtool")


def _binaries() -> dict[str, str]:
    found = {name: shutil.which(name) for name in BINARIES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        pytest.skip(
            f"{missing} not installed (Debian package 'prometheus'; .ci/run installs it with CI=true)"
        )
    return {name: str(path) for name, path in found.items()}


@contextmanager
def prometheus(binary: str, workdir: Path, target: str, rules: Path) -> Iterator[str]:
    """Prometheus on 127.0.0.1 (free port, storage under ``workdir``) scraping ``target`` every second."""
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "stagewise", "static_configs": [{"targets": [target]}]}],
    }
    (workdir / "prometheus.yml").write_text(json.dumps(config))
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _ready(base), 60, f"prometheus did not become ready; see {workdir / 'prometheus.log'}")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def _serve(args: list[str]) -> Iterator[str]:
    """``stagewise serve`` (admin routes on)."""
    with uvicorn_server(args, env={"STAGEWISE_ADMIN_TOKEN": TOKEN}) as (base, _process):
        yield base


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _until(check: Callable[[], Any], timeout: float, message: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.5)


def _api(base: str, path: str, **params: str) -> Any:
    body = httpx.get(f"{base}/api/v1/{path}", params=params, timeout=10).json()
    assert body["status"] == "success", body
    return body["data"]


def _firing(base: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for alert in _api(base, "alerts")["alerts"]:
        if alert["state"] == "firing":
            out.setdefault(alert["labels"]["alertname"], []).append(alert["labels"])
    return out


def test_prometheus_scrapes_every_named_metric_and_the_rules_fire(
    models_dir: Path, versions: dict[str, str], tmp_path: Path
) -> None:
    binaries = _binaries()
    rules = prometheus_rules(for_override="0s", window="1m", evaluation_interval="1s")
    rules_path = tmp_path / "rules.yml"
    rules_path.write_text(rules_text(rules))
    checked = subprocess.run(
        [binaries["promtool"], "check", "rules", str(rules_path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    db = tmp_path / "monitor.db"
    config = tmp_path / "config" / "rollout_config.json"
    two_days_ago = datetime.now(UTC) - timedelta(days=2)  # so yesterday's races are judged below
    GradualRollout(config, actor="test", now=lambda: two_days_ago).add_feature(
        "challenger_model", "50%", reason="canary"
    )
    monitor = PerformanceMonitor(monitor_db=db)  # a settled market signal, for the accuracy panel
    monitor.log_signal("EURUSD", "2025-03-01T10:00", 1, 0.6, model_version="m1", variant="control", outcome=1)
    # an applied decision with metric rows, for the panel of the latest decision's p-values
    ledger, yesterday = MemoryOutcomes(), date.today() - timedelta(days=1)
    for variant, races in (("on", 30), ("control", 30)):
        for i in range(races):
            ledger.add_race(
                f"{variant}-{i}", yesterday, variant=variant, hit_1st=i % 4 == 0, score_accuracy=0.9
            )
    run_controller(GradualRollout(config, actor="test"), ledger, "challenger_model", now=datetime.now(UTC))
    monitor.close()
    args = ["--models", str(models_dir), "--db", f"sqlite:///{db}", "--config", str(config)]
    with _serve([*args, "--reload-interval", "0.5"]) as server:
        payloads = race_payloads(20, prefix="prom-")
        with httpx.Client(base_url=server, timeout=30) as http:
            for p in payloads:
                assert http.post("/v1/races/predict", json=request_body(p)).status_code == 200
            for p in payloads:
                answer = http.post("/v1/results", json={"race_id": p["race_id"], "results": p["_result"]})
                assert answer.status_code == 200, answer.text

        target = server.removeprefix("http://")
        with prometheus(binaries["prometheus"], tmp_path, target, rules_path) as prom:
            # 1. every metric the rules and the dashboard name is stored from a real scrape
            named = {n for g in rules["groups"] for r in g["rules"] for n in metric_names(r["expr"])}
            queries = [
                t["expr"]
                for p in grafana_dashboard()["panels"]
                if p["type"] != "row"
                for t in p.get("targets", [])
            ]
            named |= {n for q in queries for n in metric_names(q)}

            def scraped() -> set[str]:
                names = set(_api(prom, "label/__name__/values"))
                return names if named <= names else set()

            try:
                _until(scraped, 60, "not every named metric was scraped")
            except AssertionError:
                missing = named - set(_api(prom, "label/__name__/values"))
                raise AssertionError(f"metrics named but never scraped: {sorted(missing)}") from None
            # 2. every dashboard query is valid PromQL here and returns data for the panels with data now
            for query in queries:
                _api(prom, "query", query=query)
            # the rules load, and nothing fires before the conditions exist
            loaded = [r["name"] for g in _api(prom, "rules")["groups"] for r in g["rules"]]
            assert len(loaded) == 9
            time.sleep(3)
            quiet = _firing(prom)
            assert "StagewiseModelLoadFailed" not in quiet
            assert "StagewiseRolloutKilled" not in quiet

            # 3. a refused model version: the challenger alias moves to the market model (wrong features)
            ModelRegistry(models_dir).set_alias("challenger", versions["market"])
            firing = _until(
                lambda: _firing(prom).get("StagewiseModelLoadFailed"),
                60,
                "StagewiseModelLoadFailed never fired",
            )
            assert firing[0]["role"] == "challenger"
            assert firing[0]["severity"] == "critical"

            # 4. the kill switch, pulled through the server's admin route
            killed = httpx.post(
                f"{server}/admin/kill",
                json={"reason": "drill"},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            )
            assert killed.status_code == 200
            firing = _until(
                lambda: _firing(prom).get("StagewiseRolloutKilled"), 60, "StagewiseRolloutKilled never fired"
            )
            assert firing[0]["feature"] == "challenger_model"
