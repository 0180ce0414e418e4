"""The economic guardrail: one-sided, always valid when looked at every day."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from stagewise.rollout.controller import ControllerPolicy, DayCounts, Evidence, decide
from stagewise.rollout.economic import (
    EconomicGuardrail,
    MoneyDay,
    MoneyEvidence,
    economic_guardrail,
    money_day,
)
from stagewise.rollout.stages import parse_stage

DAYS = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(30)]


def _month(rng: np.random.Generator, roi: float, per_day: int = 70) -> list[MoneyDay]:
    # a unit bet at odds 4 wins with probability (1 + roi) / 4: profit 3 or -1
    p = (1 + roi) / 4
    return [money_day(d, np.where(rng.random(per_day) < p, 3.0, -1.0)) for d in DAYS]


def test_aa_months_rarely_alarm_although_looked_at_daily() -> None:
    rng = np.random.default_rng(0)
    alarms = sum(economic_guardrail(_month(rng, -0.2), _month(rng, -0.2)).rejected for _ in range(300))
    assert alarms / 300 <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 300)


def test_a_money_losing_challenger_is_caught() -> None:
    rng = np.random.default_rng(1)
    caught = sum(economic_guardrail(_month(rng, -0.2), _month(rng, -0.5)).rejected for _ in range(100))
    assert caught >= 80


def test_a_better_challenger_never_alarms_one_sided() -> None:
    rng = np.random.default_rng(2)
    assert not any(economic_guardrail(_month(rng, -0.3), _month(rng, 0.0)).rejected for _ in range(50))


@given(
    values=st.lists(st.floats(-1.0, 50.0, allow_nan=False), min_size=1, max_size=40),
    noise=st.lists(st.sampled_from(["nan", "pending", "void"]), max_size=10),
)
def test_money_days_ignore_units_without_money_data(values: list[float], noise: list[str]) -> None:
    """Rows without a money value (no bet, refunded) or not settled never change a day's summary."""
    import pandas as pd

    from stagewise.rollout.economic import money_days

    day = pd.Timestamp("2025-11-17")
    clean = pd.DataFrame({"race_date": day, "status": "settled", "bet_profit": values})
    extra = pd.DataFrame(
        {
            "race_date": day,
            "status": ["settled" if kind == "nan" else kind for kind in noise],
            "bet_profit": [float("nan") if kind == "nan" else 9.0 for kind in noise],
        }
    )
    mixed = pd.concat([extra, clean])  # the money rows keep their order: the same sums to the last bit
    assert money_days(mixed, "race_date", "bet_profit") == money_days(clean, "race_date", "bet_profit")
    (summary,) = money_days(clean, "race_date", "bet_profit")
    assert summary.units == len(values)


def _evidence(money: MoneyEvidence | None) -> Evidence:
    days = [DayCounts(d, races=40, hits_1st=10, hits_top3=3) for d in DAYS[:3]]
    return Evidence(
        "kelly", parse_stage("10%"), False, days, days, {d.day: "HEALTHY" for d in days},
        stage_since=DAYS[0], money=money,
    )  # fmt: skip


def test_the_decision_rolls_back_holds_or_lets_promote_on_the_money_verdict() -> None:
    """Three HEALTHY days with equal hit rates: the money alone decides between the three outcomes."""
    now = dt.datetime(2025, 1, 4, 6, tzinfo=dt.UTC)
    rng = np.random.default_rng(5)
    guard = EconomicGuardrail(alpha=0.05, tau=0.05, min_units=100)
    control = _month(rng, -0.20, per_day=200)[:3]
    cases = {
        "rejected": MoneyEvidence(guard, control, _month(rng, -0.70, per_day=200)[:3]),
        "insufficient": MoneyEvidence(guard, control, _month(rng, -0.20, per_day=20)[:3]),
        "ok": MoneyEvidence(guard, control, _month(rng, -0.20, per_day=200)[:3]),
        "off": None,
    }
    actions = {name: decide(_evidence(money), ControllerPolicy(), now) for name, money in cases.items()}
    assert actions["rejected"].action == "rollback"
    assert actions["rejected"].reasons[0].startswith("economic guardrail: the challenger earns less")
    assert actions["insufficient"].action == "hold"
    assert (
        "insufficient money data (challenger 60 races with money data, < 100)"
        in actions["insufficient"].reasons[0]
    )
    assert (actions["ok"].action, actions["off"].action) == ("promote", "promote")
    assert actions["ok"].numbers["economic"]["status"] == "ok"
    assert "economic" not in actions["off"].numbers
