"""Declared guardrails through the controller end to end, on the in-memory ledger twin.

The same healthy challenger that the controller promotes without guardrails is held when a declared
metric shows harm with ``on_fail: hold``, rolled back with ``on_fail: rollback``, held when an active
metric cannot be computed, and still promoted when the broken or harmed metric is only a dry run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from routed_races_support import Clock

from stagewise.notify import AlertMessage, DeliveryResult
from stagewise.rollout import GradualRollout, MemoryRolloutStore
from stagewise.rollout.controller_query import ControllerQuery
from stagewise.rollout.controller_runner import run_controller
from stagewise.rollout.health import RACES_POLICY, load_policy
from stagewise.rollout.outcomes import MemoryOutcomes

FEATURE = "probability_calibration"
START = date(2026, 11, 1)
NOW = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)


def _ledger(challenger_trifecta_per_25: int) -> MemoryOutcomes:
    """Nine days at 10 %: 50 challenger and 450 control races a day. The challenger wins 32 %, control
    28 %; control's trifecta rate is 20 %, the challenger's as given (2 of 25 = 8 % stays above the
    health table's 5 % line, so without guardrails it is promoted)."""
    ledger = MemoryOutcomes()
    for k in range(9):
        day = START + timedelta(days=k)
        for variant, n, wins, trifectas in (
            ("on", 50, 8, challenger_trifecta_per_25),
            ("control", 450, 7, 5),
        ):
            for i in range(n):
                won = i % 25 < wins
                ledger.add_race(
                    f"{day:%Y%m%d}-{variant}-{i:03d}", day, variant=variant, model_version=variant,
                    hit_1st=won, hit_top3=won and i % 25 < trifectas, hit_trio=won,
                    score_accuracy=1.0 if won else 0.97,
                )  # fmt: skip
    return ledger


class _Notifier:
    channel = "memory"

    def __init__(self) -> None:
        self.sent: list[AlertMessage] = []

    def send(self, message: AlertMessage) -> DeliveryResult:
        self.sent.append(message)
        return DeliveryResult(self.channel, "memory://", ok=True, attempts=1)


def _decide(
    guardrails: list[dict[str, Any]], ledger: MemoryOutcomes, notifier: _Notifier | None = None
) -> Any:
    policy = load_policy({**RACES_POLICY.model_dump(), "guardrails": guardrails})
    clock = Clock(datetime(2026, 11, 1, 5, 0, tzinfo=UTC))
    rollout = GradualRollout(
        store=MemoryRolloutStore(), now=clock, refresh_interval=0, actor="ops", health_policy=policy
    )
    rollout.add_feature(FEATURE, stage="10%", salt=f"{FEATURE}:twin", reason="start canary")
    clock.now = NOW
    query = ControllerQuery(FEATURE, now=NOW, dry_run=notifier is None)
    return run_controller(rollout, ledger, query, notifiers=[notifier] if notifier else [])


WIN = {"name": "win", "metric": "win_hit"}


def test_without_guardrails_the_challenger_is_promoted() -> None:
    d = _decide([], _ledger(challenger_trifecta_per_25=2))
    assert d.action == "promote"
    assert "guardrails" not in d.numbers


@pytest.mark.parametrize(
    ("on_fail", "action", "to"), [("hold", "hold", "10%"), ("rollback", "rollback", "disabled")]
)
def test_harm_on_a_declared_metric_acts_by_its_on_fail(on_fail: str, action: str, to: str) -> None:
    trifecta = {"name": "trifecta", "metric": "trifecta_hit", "on_fail": on_fail, "tau": 0.05}
    d = _decide([WIN, trifecta], _ledger(challenger_trifecta_per_25=2))
    assert (d.action, d.to_stage) == (action, to)
    assert d.reasons[0].startswith("guardrails: significant harm on trifecta: challenger − control = -0.12")
    rows = {r["name"]: r for r in d.numbers["guardrails"]["records"]}
    assert (rows["trifecta"]["n_control"], rows["trifecta"]["n_challenger"]) == (450 * 9, 50 * 9)
    assert rows["win"]["verdict"] == "ok"


def test_an_active_metric_the_ledger_cannot_give_holds() -> None:
    d = _decide([WIN, {"name": "latency", "metric": "latency"}], _ledger(challenger_trifecta_per_25=5))
    assert d.action == "hold"
    assert "guardrails: latency is insufficient: control: column 'latency_ms' is not logged" in d.reasons[0]


def test_dry_run_metrics_broken_or_harmed_change_nothing() -> None:
    dry = [
        {"name": "latency", "metric": "latency", "dry_run": True},
        {"name": "trifecta", "metric": "trifecta_hit", "tau": 0.05, "dry_run": True},
    ]
    plain = _decide([WIN], _ledger(challenger_trifecta_per_25=2))
    with_dry = _decide([WIN, *dry], _ledger(challenger_trifecta_per_25=2))
    assert plain.action == with_dry.action == "promote"
    assert plain.reasons == with_dry.reasons
    rows = {r["name"]: r["verdict"] for r in with_dry.numbers["guardrails"]["records"]}
    assert rows == {"win": "ok", "latency": "insufficient", "trifecta": "harm"}


def test_the_rollback_alert_names_each_guardrails_verdict() -> None:
    notifier = _Notifier()
    trifecta = {"name": "trifecta", "metric": "trifecta_hit", "tau": 0.05}
    dry = {"name": "latency", "metric": "latency", "dry_run": True}
    d = _decide([WIN, trifecta, dry], _ledger(challenger_trifecta_per_25=2), notifier)
    assert (d.action, d.applied) == ("rollback", True)
    (alert,) = notifier.sent
    assert alert.severity == "critical"
    assert alert.fields["guardrails"] == "rollback"
    assert (alert.fields["guardrail_win"], alert.fields["guardrail_trifecta"]) == ("ok", "harm")
    assert isinstance(alert.fields["guardrail_trifecta_p_value"], float)
    assert alert.fields["guardrail_trifecta_p_value"] < 0.025
    assert "guardrail_latency" not in alert.fields  # a dry run never pages anyone
