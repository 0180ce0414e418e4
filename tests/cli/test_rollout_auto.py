"""``rollout simulate-aa`` and ``rollout auto`` through Typer, on real files and a real SQLite ledger."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from stagewise._exceptions import ConfigError, NotFoundError
from stagewise.cli.rollout_auto import register
from stagewise.monitor import PerformanceMonitor
from stagewise.rollout import GradualRollout

FEATURE = "probability_calibration"
START = date(2026, 11, 1)
runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    group = typer.Typer()
    register(group)
    return group


def test_simulate_aa_prints_both_rules_with_intervals(app: typer.Typer) -> None:
    result = runner.invoke(app, ["simulate-aa", "--sims", "400", "--seed", "3"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "sequential (mSPRT)" in result.output
    assert "naive daily z-test" in result.output
    assert "within α = 0.05" in result.output
    assert "[" in result.output  # Wilson intervals


def test_simulate_aa_json_is_reproducible_and_shows_the_contrast(app: typer.Typer) -> None:
    args = [
        "simulate-aa",
        "--sims",
        "1000",
        "--seed",
        "7",
        "--json",
        "--share",
        "0.1",
        "--races-per-day",
        "140",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    assert data == json.loads(runner.invoke(app, args).output)
    false_seq = data["false_rollback"]["sequential"]
    false_naive = data["false_rollback"]["naive"]
    assert false_seq["rate"] <= 0.05
    assert false_naive["rate"] > 0.15
    low, high = false_naive["wilson_95"]
    assert low < false_naive["rate"] < high
    assert data["settings"]["share"] == 0.1
    assert 0 < data["power"]["sequential"]["rate"] < data["power"]["naive"]["rate"]


def test_simulate_aa_refuses_bad_input(app: typer.Typer) -> None:
    result = runner.invoke(app, ["simulate-aa", "--sims", "0"])
    assert isinstance(result.exception, ConfigError)
    assert "'n_sims' parameter must be an int >= 1. Got 0" in str(result.exception)


def _ledger(tmp_path: Path, hit_rate: dict[str, float]) -> tuple[Path, Path]:
    config = tmp_path / "config" / "rollout_config.json"
    clock = lambda: datetime(2026, 11, 1, 5, tzinfo=UTC)  # noqa: E731
    rollout = GradualRollout(config, now=clock, actor="ops")
    rollout.add_feature(FEATURE, stage="10%", salt=f"{FEATURE}:cli", reason="start canary")
    db = tmp_path / "data" / "monitor.db"
    rng = np.random.default_rng(1)
    rows: list[dict[str, Any]] = []
    for k in range(9):
        day = START + timedelta(days=k)
        for i in range(200):
            race_id = f"{day:%Y%m%d}{i % 24 + 1:02d}{i // 24 + 1:02d}"
            variant = rollout.variant(FEATURE, race_id)  # "on" or "control"
            order = [int(p) for p in rng.permutation(6) + 1]
            predicted = order if rng.random() < hit_rate[variant] else [order[1], order[0], *order[2:]]
            rows.append({
                "race_id": race_id, "race_date": day.isoformat(), "venue_code": i % 24 + 1,
                "race_number": i // 24 + 1, "variant": variant,
                "predictions": [{"pit_number": p} for p in predicted],
                "actual_results": [{"pit_number": p, "rank": r} for r, p in enumerate(order, 1)],
            })  # fmt: skip
    with PerformanceMonitor(monitor_db=db) as monitor:
        monitor.log_predictions(rows)
    return config, db


def test_auto_dry_run_then_apply(app: typer.Typer, tmp_path: Path) -> None:
    config, db = _ledger(tmp_path, {"on": 0.32, "control": 0.30})
    before = config.read_bytes()
    args = ["auto", FEATURE, "--config", str(config), "--ledger", str(db), "--through", "2026-11-09"]
    dry = runner.invoke(app, [*args, "--dry-run"], env={"COLUMNS": "160"})
    assert dry.exit_code == 0, dry.output
    assert "PROMOTE probability_calibration: 10% -> 50%" in dry.output
    assert "dry run: nothing changed" in dry.output
    assert config.read_bytes() == before

    applied = runner.invoke(app, [*args, "--json"])
    assert applied.exit_code == 0, applied.output
    decision = json.loads(applied.output)
    assert (decision["action"], decision["to_stage"], decision["applied"]) == ("promote", "50%", True)
    assert json.loads(config.read_text())["feature_rollouts"][FEATURE]["stage"] == "50%"
    audit = [json.loads(line) for line in (config.parent / "rollout_audit.jsonl").read_text().splitlines()]
    assert audit[-1]["details"]["controller"]["numbers"]["srm"]["verdict"] == "ok"


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        type(self).received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    server = HTTPServer(("127.0.0.1", 0), type("Hook", (_Hook,), {"received": received}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


def test_auto_rolls_back_and_notifies_the_configured_webhook(
    app: typer.Typer, tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    config, db = _ledger(tmp_path, {"on": 0.04, "control": 0.30})
    result = runner.invoke(
        app,
        ["auto", FEATURE, "--config", str(config), "--ledger", str(db), "--through", "2026-11-09"],
        env={"STAGEWISE_WEBHOOK_URL": url, "COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    assert "ROLLBACK probability_calibration: 10% -> disabled" in result.output
    assert "notification via webhook: sent" in result.output
    assert json.loads(config.read_text())["feature_rollouts"][FEATURE]["stage"] == "disabled"
    assert received[0]["severity"] == "critical"


def test_auto_refuses_missing_files_and_bad_options(app: typer.Typer, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["auto", FEATURE, "--config", str(tmp_path / "nope.json")])
    assert isinstance(missing.exception, NotFoundError)
    assert "nope.json" in str(missing.exception)
    config, db = _ledger(tmp_path, {"on": 0.3, "control": 0.3})
    base = ["auto", FEATURE, "--config", str(config), "--ledger", str(db)]
    bad_date = runner.invoke(app, [*base, "--through", "yesterday"])
    assert isinstance(bad_date.exception, ConfigError)
    assert "--through must be a date YYYY-MM-DD. Got 'yesterday'" in str(bad_date.exception)
    bad_shadow = runner.invoke(app, [*base, "--shadow", "v1"])
    assert "--shadow must be CHAMPION:CHALLENGER model versions. Got 'v1'" in str(bad_shadow.exception)
    same = runner.invoke(app, [*base, "--shadow", "v1:v1"])
    assert "two different model versions" in str(same.exception)
    bad_days = runner.invoke(app, [*base, "--days-healthy", "0"])
    assert "'days_healthy' must be an int >= 1. Got 0" in str(bad_days.exception)
    unknown = runner.invoke(app, ["auto", "no_such_feature", "--config", str(config), "--ledger", str(db)])
    assert isinstance(unknown.exception, NotFoundError)
    assert FEATURE in str(unknown.exception)  # lists the known features


def test_through_the_root_command_with_rollout_and_ledger_in_one_database(tmp_path: Path) -> None:
    from stagewise.cli.main import app as root

    url = f"sqlite:///{tmp_path / 'stagewise.db'}"
    clock = lambda: datetime(2026, 11, 1, 5, tzinfo=UTC)  # noqa: E731
    rollout = GradualRollout(db_url=url, now=clock, actor="ops")
    rollout.add_feature(FEATURE, stage="10%", salt=f"{FEATURE}:sql", reason="start canary")
    rng = np.random.default_rng(5)
    rows = []
    for k in range(9):
        day = START + timedelta(days=k)
        for i in range(200):
            race_id = f"{day:%Y%m%d}{i % 24 + 1:02d}{i // 24 + 1:02d}"
            variant = rollout.variant(FEATURE, race_id)  # "on" or "control"
            order = [int(p) for p in rng.permutation(6) + 1]
            predicted = order if rng.random() < 0.3 else [order[1], order[0], *order[2:]]
            rows.append({
                "race_id": race_id, "race_date": day.isoformat(), "venue_code": i % 24 + 1,
                "race_number": i // 24 + 1, "variant": variant,
                "predictions": [{"pit_number": p} for p in predicted],
                "actual_results": [{"pit_number": p, "rank": r} for r, p in enumerate(order, 1)],
            })  # fmt: skip
    with PerformanceMonitor(url) as monitor:
        monitor.log_predictions(rows)
    result = runner.invoke(
        root, ["rollout", "auto", FEATURE, "--db", url, "--through", "2026-11-09", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["action"] == "promote"
    assert GradualRollout(db_url=url).feature(FEATURE).stage.name == "50%"

    missing = runner.invoke(root, ["rollout", "auto", FEATURE, "--config", str(tmp_path / "none.json")])
    assert missing.exit_code == 1
    assert "NotFoundError" in missing.output
    assert "none.json" in missing.output
    assert "Traceback" not in missing.output


def test_auto_with_declared_guardrails_in_a_policy_file_on_a_real_ledger(
    app: typer.Typer, tmp_path: Path
) -> None:
    from stagewise.rollout.health import RACES_POLICY

    config, db = _ledger(tmp_path, {"on": 0.32, "control": 0.30})  # promoted without guardrails
    policy = tmp_path / "policy.json"
    guardrails = [
        {"name": "win", "metric": "win_hit"},
        {"name": "score", "metric": "score_accuracy"},
        {"name": "latency", "metric": "latency", "dry_run": True},
    ]
    policy.write_text(json.dumps({**RACES_POLICY.model_dump(), "guardrails": guardrails}))
    args = ["auto", FEATURE, "--config", str(config), "--ledger", str(db), "--through", "2026-11-09"]
    result = runner.invoke(app, [*args, "--policy", str(policy), "--dry-run"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "PROMOTE probability_calibration: 10% -> 50%" in result.output
    assert "declared guardrails: pass (Holm over 2, α = 0.05)" in result.output
    assert "latency (dry run)" in result.output  # shown, broken (not logged), and it changed nothing
    assert "[n/a, n/a]" in result.output  # its interval, printed literally (not eaten as markup)

    guardrails[2] = {"name": "latency", "metric": "latency"}  # the same metric, active: no evidence, hold
    policy.write_text(json.dumps({**RACES_POLICY.model_dump(), "guardrails": guardrails}))
    held = runner.invoke(app, [*args, "--policy", str(policy), "--dry-run", "--json"])
    decision = json.loads(held.output)
    assert (decision["action"], decision["to_stage"]) == ("hold", "10%")
    records = {r["name"]: r for r in decision["numbers"]["guardrails"]["records"]}
    assert records["win"]["verdict"] == "ok"
    assert records["win"]["n_control"] + records["win"]["n_challenger"] == 9 * 200
    assert records["latency"]["reason"].startswith("control: column 'latency_ms' is not logged")

    policy.write_text(
        json.dumps({**RACES_POLICY.model_dump(), "guardrails": [{"name": "w", "metric": "ece"}]})
    )
    refused = runner.invoke(app, [*args, "--policy", str(policy)])
    assert isinstance(refused.exception, ConfigError)
    assert "guardrails.0: metric 'ece' is refused" in str(refused.exception)
