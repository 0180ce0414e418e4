"""The economic guardrail in the controller: a challenger that loses money is rolled back on money alone.

Both groups pick the winner of 30 % of their races (the same hit rates, so no hit-rate rule or harm
test can tell them apart); the logged odds of their picks differ. At odds about 3.0 a 30 % pick
returns about −10 % per race; at odds about 2.0 (the crowd's favourites: worse prices for the same
winners) about −40 %.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from routed_races_support import Clock

from stagewise import ConfigError
from stagewise.monitor import PerformanceMonitor
from stagewise.notify import AlertMessage, DeliveryResult
from stagewise.rollout import GradualRollout
from stagewise.rollout.controller_runner import run_controller
from stagewise.rollout.health import RACES_POLICY, load_policy

FEATURE = "kelly_sizing"
START = date(2026, 11, 1)
# validated as a policy file would be: the seed's table plus the guardrail entry
GUARDED = load_policy({**RACES_POLICY.model_dump(), "economic_guardrail": {"alpha": 0.05, "tau": 0.05}})


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 1, 5, 0, tzinfo=UTC))


@pytest.fixture
def monitor(tmp_path: Path, clock: Clock) -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(monitor_db=tmp_path / "monitor.db", clock=clock)
    yield m
    m.close()


def _rollout(tmp_path: Path, clock: Clock, policy: Any) -> GradualRollout:
    r = GradualRollout(
        tmp_path / "rollout_config.json", now=clock, refresh_interval=0, actor="ops", health_policy=policy
    )
    if FEATURE not in r.get_rollout_status()["feature_rollouts"]:
        r.add_feature(FEATURE, stage="50%", salt=f"{FEATURE}:money", reason="canary")
    return r


def _log(
    monitor: PerformanceMonitor,
    rollout: GradualRollout,
    odds: dict[str, float] | None,
    *,
    days: int = 6,
    races_per_day: int = 300,
) -> None:
    rng = np.random.default_rng(7)
    rows: list[dict[str, Any]] = []
    for k in range(days):
        day = START + timedelta(days=k)
        for i in range(races_per_day):
            race_id = f"{day:%Y%m%d}{i:04d}"
            variant = rollout.variant(FEATURE, race_id)
            order = [int(p) for p in rng.permutation(6) + 1]
            hit = rng.random() < 0.30
            predicted = order if hit else [order[1], order[0], *order[2:]]
            row: dict[str, Any] = {
                "race_id": race_id, "race_date": day.isoformat(), "venue_code": i % 24 + 1,
                "race_number": i % 12 + 1, "variant": variant, "model_version": variant,
                "predictions": [{"pit_number": p} for p in predicted],
                "actual_results": [{"pit_number": p, "rank": r} for r, p in enumerate(order, 1)],
            }  # fmt: skip
            if odds is not None:  # the pick's pre-close odds: chosen before, never from, the outcome
                row["odds"] = round(odds[variant] * rng.uniform(0.85, 1.15), 1)
            rows.append(row)
    monitor.log_predictions(rows)


NOW = datetime(2026, 11, 7, 5, 0, tzinfo=UTC)


def test_a_challenger_losing_money_at_the_same_hit_rate_is_rolled_back(
    tmp_path: Path, monitor: PerformanceMonitor, clock: Clock
) -> None:
    rollout = _rollout(tmp_path, clock, GUARDED)
    _log(monitor, rollout, {"on": 2.0, "control": 3.0})
    clock.now = NOW

    unguarded = _rollout(tmp_path, clock, RACES_POLICY)  # the same feature and ledger, no guardrail
    assert run_controller(unguarded, monitor, FEATURE, now=NOW, dry_run=True).action == "promote"

    sent: list[AlertMessage] = []

    class Recorder:  # a notifier: the controller tells it about the rollback
        channel = "memory"

        def send(self, message: AlertMessage) -> DeliveryResult:
            sent.append(message)
            return DeliveryResult(self.channel, "test", ok=True, attempts=1)

    decision = run_controller(rollout, monitor, FEATURE, now=NOW, notifiers=[Recorder()])
    assert (decision.action, decision.to_stage) == ("rollback", "disabled")
    (alert,) = sent
    assert alert.fields["economic_guardrail"] == "rejected"
    assert float(str(alert.fields["challenger_money_per_unit"])) < float(
        str(alert.fields["control_money_per_unit"])
    )
    assert decision.reasons[0].startswith(
        "economic guardrail: the challenger earns less per unit than control"
    )
    economic = decision.numbers["economic"]
    assert economic["status"] == "rejected"
    assert economic["mean_per_unit"]["challenger"] < -0.3 < -0.2 < economic["mean_per_unit"]["control"]
    assert economic["test"]["p_value"] < 0.05
    assert decision.numbers["sequential"]["hit_rate_1st"]["rejected"] is False  # hit rates alike
    assert rollout.feature(FEATURE).stage.name == "disabled"
    assert rollout.audit_log()[-1]["details"]["controller"]["numbers"]["economic"]["status"] == "rejected"


def test_a_challenger_earning_the_same_is_promoted(
    tmp_path: Path, monitor: PerformanceMonitor, clock: Clock
) -> None:
    rollout = _rollout(tmp_path, clock, GUARDED)
    _log(monitor, rollout, {"on": 3.0, "control": 3.0})
    decision = run_controller(rollout, monitor, FEATURE, now=NOW)
    assert (decision.action, decision.to_stage) == ("promote", "100%")
    assert decision.numbers["economic"]["status"] == "ok"
    assert min(decision.numbers["economic"]["units"].values()) >= 100


def test_without_money_data_the_guardrail_holds_instead_of_promoting(
    tmp_path: Path, monitor: PerformanceMonitor, clock: Clock
) -> None:
    rollout = _rollout(tmp_path, clock, GUARDED)
    _log(monitor, rollout, None)  # the seed's rows: no odds logged
    decision = run_controller(rollout, monitor, FEATURE, now=NOW)
    assert (decision.action, decision.to_stage) == ("hold", "50%")
    assert "economic guardrail: insufficient money data" in decision.reasons[0]
    assert decision.numbers["economic"]["units"] == {"control": 0, "challenger": 0}


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"alpha": 0.0}, "economic_guardrail.alpha: must be a number in (0, 0.5] (got 0.0)"),
        ({"alpha": 0.9}, "economic_guardrail.alpha: must be a number in (0, 0.5] (got 0.9)"),
        ({"tau": -0.05}, "economic_guardrail.tau: must be a number in (0, 10] (got -0.05)"),
        ({"tau": "wide"}, "economic_guardrail.tau: must be a number in (0, 10] (got 'wide')"),
        ({"min_units": 0}, "economic_guardrail.min_units: must be an int >= 1 (got 0)"),
        ({"alpah": 0.05}, "economic_guardrail.alpah: Extra inputs are not permitted"),
    ],
    ids=["alpha-0", "alpha-0.9", "tau-negative", "tau-text", "min-units-0", "misspelt"],
)
def test_a_bad_guardrail_entry_is_one_line_naming_field_value_and_range(
    tmp_path: Path, entry: dict[str, Any], needle: str
) -> None:
    path = tmp_path / "policy.json"
    body = RACES_POLICY.model_dump()
    body["economic_guardrail"] = entry
    path.write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    message = str(info.value)
    assert needle in message
    assert message.startswith(f"Invalid health policy {str(path)!r}: ")
    assert "\n" not in message


@pytest.mark.parametrize("challenger_cost", [0.0008, 0.0001], ids=["8bp-vs-1bp", "equal-costs"])
def test_markets_a_signal_paying_more_costs_is_rolled_back_on_net_return(
    tmp_path: Path, monitor: PerformanceMonitor, clock: Clock, challenger_cost: float
) -> None:
    """Both groups call the direction right half the time; the challenger pays more a signal, or the same."""
    from stagewise.rollout.health import MARKETS_POLICY

    entry = {"alpha": 0.05, "tau": 0.0005, "min_units": 50}
    policy = load_policy({**MARKETS_POLICY.model_dump(mode="json"), "economic_guardrail": entry})
    rollout = GradualRollout(
        tmp_path / "markets.json", now=clock, refresh_interval=0, actor="ops", health_policy=policy
    )
    rollout.add_feature(FEATURE, stage="50%", salt=f"{FEATURE}:markets", reason="canary")
    rng = np.random.default_rng(11)
    for hour in range(24 * 10):
        ts = datetime(2026, 11, 1) + timedelta(hours=hour)
        variant = rollout.variant(FEATURE, f"EURUSD:{ts.isoformat()}")
        up = int(rng.integers(2))
        monitor.log_signal("EURUSD", ts, up, 0.55 if up else 0.45, model_version=variant, variant=variant)
        move = float(rng.normal(0.0, 0.001))
        cost = challenger_cost if variant == "on" else 0.0001
        monitor.log_market_outcome("EURUSD", ts, int(move > 0), bar_return=move, cost=cost)
    decision = run_controller(
        rollout, monitor, FEATURE, now=datetime(2026, 11, 11, 5, tzinfo=UTC), dry_run=True
    )
    economic = decision.numbers["economic"]
    if challenger_cost == 0.0001:
        assert decision.action != "rollback"
        assert economic["status"] == "ok"
        return
    assert (decision.action, decision.to_stage) == ("rollback", "disabled")
    assert economic["status"] == "rejected"
    assert "signals with money data" in decision.reasons[0]
    assert economic["mean_per_unit"]["challenger"] < economic["mean_per_unit"]["control"] - 0.0004
