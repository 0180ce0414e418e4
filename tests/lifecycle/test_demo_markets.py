"""The markets demo end to end on the bundled EURUSD bars: decisions, ledger, webhook, report."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

import pytest

from stagewise.lifecycle import TextProgress, run_demo
from stagewise.lifecycle.demo import DemoResult
from stagewise.lifecycle.markets_demo import SYMBOL
from stagewise.rollout import GradualRollout

pytestmark = pytest.mark.slow

#: Small ensembles: every part stays real (fits, backtests, registry, ledger, controller, HTTP).
SMALL = {k: {"n_estimators": 20} for k in ("lgbm_params", "xgb_params", "rf_params")}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, list[str]]:
    lines: list[str] = []
    root = tmp_path_factory.mktemp("markets") / "run"
    result = run_demo(root, domain="markets", progress=TextProgress(lines.append), model_params=SMALL)
    return result, lines


def _ledger(result: DemoResult, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(result.workdir / "data" / "monitor.db") as conn:
        rows = conn.execute(query).fetchall()
    conn.close()
    return rows


def test_the_healthy_challenger_is_promoted_to_100_percent_and_never_rolled_back(
    run: tuple[DemoResult, list[str]],
) -> None:
    result, _ = run
    moves = [(d.stage_before, d.stage_after) for d in result.good_run if d.action == "promote"]
    assert moves == [("10%", "50%"), ("50%", "100%")], [(d.day, d.action, d.reasons) for d in result.good_run]
    assert not any(d.action == "rollback" for d in result.good_run)
    first = next(d for d in result.good_run if d.action == "promote")
    # The promotion came from a health verdict over at least the policy's 50 settled signals.
    assert first.health == "HEALTHY"
    assert "HEALTHY for 3 consecutive days at 10%" in first.reasons[0]
    assert "signals" in first.reasons[0]
    # Before 50 challenger signals were settled at 10 % the controller only held.
    early = [d for d in result.good_run if d.day < first.day]
    assert early
    assert all(d.action == "hold" for d in early)
    registry = json.loads((result.workdir / "models" / "registry.json").read_text(encoding="utf-8"))
    assert registry["production"] == result.models["challenger"]["version"]


def test_the_degraded_challenger_is_rolled_back_with_a_signed_webhook(
    run: tuple[DemoResult, list[str]],
) -> None:
    result, _ = run
    rollbacks = [d for d in result.degraded_run if d.action == "rollback"]
    assert len(rollbacks) == 1
    assert rollbacks[0].stage_before == "10%"
    assert rollbacks[0].stage_after == "disabled"
    reason = " ".join(rollbacks[0].reasons)
    assert "probability score" in reason or "Brier skill" in reason, reason
    # Its signals were confidently wrong half the time: a Brier score near 0.5, the control's near 0.25.
    assert rollbacks[0].challenger_brier > 0.35 > 0.27 > rollbacks[0].control_brier
    assert result.degraded_run[-1].stage_after == "disabled"
    assert result.degraded_run[-1].challenger_signals == 0  # disabled: every bar goes to the champion
    titles = [n["body"]["title"] for n in result.notifications]
    assert titles == ["Rollout of degraded_model rolled back: 10% -> disabled"]
    assert all(n["signature_ok"] for n in result.notifications)
    registry = json.loads((result.workdir / "models" / "registry.json").read_text(encoding="utf-8"))
    assert "challenger" not in registry["aliases"]

    rollout = GradualRollout(result.workdir / "config" / "rollout_config.json")
    assert rollout.verify_audit().ok
    moves = [
        (e["feature"], e["old_stage"], e["new_stage"])
        for e in rollout.audit_log()
        if e["actor"] == "stagewise-controller" and e["old_stage"] != e["new_stage"]
    ]
    assert moves == [
        ("challenger_model", "10%", "50%"),
        ("challenger_model", "50%", "100%"),
        ("degraded_model", "10%", "disabled"),
    ]
    holds = [e for e in rollout.audit_log() if e["action"] == "controller_hold"]
    assert len(holds) == sum(d.action == "hold" for d in (*result.good_run, *result.degraded_run))


def test_every_bar_is_one_signal_logged_before_its_outcome(run: tuple[DemoResult, list[str]]) -> None:
    result, _ = run
    days = [*result.good_run, *result.degraded_run]
    [(total, settled, before, symbols)] = _ledger(
        result,
        "SELECT count(*), sum(status = 'settled'), sum(logged_at < settled_at), count(DISTINCT symbol) "
        "FROM market_signals",
    )
    assert total == sum(d.signals for d in days)
    assert settled == total  # every outcome arrived, each after its signal
    assert before == total
    assert symbols == 1
    # No signal was settled at the moment it was logged: its outcome is the next bar's close.
    [(gap,)] = _ledger(
        result, "SELECT min(julianday(settled_at) - julianday(logged_at)) * 24 FROM market_signals"
    )
    assert gap >= 1.0 - 1e-6
    [(on,)] = _ledger(result, "SELECT count(*) FROM market_signals WHERE variant = 'on'")
    assert on == sum(d.challenger_signals for d in days)
    # The challenger's signals carry the challenger's version, the control's the champion's.
    versions = dict(
        _ledger(
            result,
            "SELECT variant, group_concat(DISTINCT model_version) FROM market_signals GROUP BY variant",
        )
    )
    good, bad = result.models["challenger"]["version"], result.models["degraded"]["version"]
    assert set(versions["on"].split(",")) == {good, bad}
    assert result.models["champion"]["version"] in versions["control"].split(",")
    # About 10 % of the bars at the 10 % stage went to the challenger (bucketing by unit id).
    at_10 = [d for d in result.good_run if d.stage_before == "10%"]
    share = sum(d.challenger_signals for d in at_10) / sum(d.signals for d in at_10)
    assert 0.06 < share < 0.14


def test_the_report_links_backtests_monitor_and_audit(run: tuple[DemoResult, list[str]]) -> None:
    result, lines = run
    page = result.report.read_text(encoding="utf-8")
    assert "stagewise demo — markets" in page
    assert "chain verified" in page
    assert page.count('class="promote"') == 2
    assert page.count('class="rollback"') == 1
    for href in (
        "../backtest/champion/walkforward_report.html",
        "../backtest/challenger/walkforward_report.html",
        "monitor.html",
        "monitor.txt",
        "demo_summary.json",
    ):
        assert f'href="{href}"' in page
        assert (result.report.parent / href).resolve().is_file()
    trend = (result.report.parent / "monitor.txt").read_text(encoding="utf-8")
    assert trend.startswith("Market signal report")
    summary = json.loads(result.summary_path.read_text(encoding="utf-8"))
    assert summary["domain"] == "markets"
    assert [d["action"] for d in summary["degraded_run"]] == [d.action for d in result.degraded_run]
    backtest = json.loads(
        (result.workdir / "backtest" / "champion" / "walkforward_results.json").read_text(encoding="utf-8")
    )
    assert backtest["domain"] == "markets"
    assert (result.workdir / "data" / "bars.parquet").is_file()
    assert [line[:5] for line in lines if line.startswith("[")] == [f"[{i}/6]" for i in range(1, 7)]
    day_lines = [line for line in lines if re.match(r"\s+201[78]-\d\d-\d\d ", line)]
    assert len(day_lines) == len(result.good_run) + len(result.degraded_run)
    assert any(SYMBOL in line for line in lines)


def test_each_day_has_its_stats_and_alerts_in_the_ledger(run: tuple[DemoResult, list[str]]) -> None:
    result, _ = run
    days = [*result.good_run, *result.degraded_run]
    [(rollups,)] = _ledger(
        result, "SELECT count(DISTINCT date) FROM daily_performance WHERE domain = 'market'"
    )
    assert rollups == len(days)  # calculate_market_stats ran for every replayed day
    # Sunday evenings bring 2-3 bars: the monitor's LOW_SIGNAL_COUNT (< 10 signals) fires, and only then.
    for day in days:
        assert ("LOW_SIGNAL_COUNT" in day.alerts) == (day.signals < 10), day
    states = dict(
        _ledger(
            result,
            "SELECT state, count(*) FROM alerts WHERE domain = 'market' AND alert_type = 'LOW_SIGNAL_COUNT' "
            "GROUP BY state",
        )
    )
    sundays = sum(1 for d in days if d.signals < 10)
    assert states["firing"] == sundays
    assert states["resolved"] == sundays  # each Monday's full day resolves it
