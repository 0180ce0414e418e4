"""The economic guardrail: one-sided, always valid when looked at every day."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from stagewise.rollout.economic import economic_guardrail, money_day

DAYS = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(30)]


def _month(rng: np.random.Generator, roi: float, per_day: int = 70) -> list:
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
