"""Money per unit in the ledger: a prediction's bet, its profit once settled, a signal's net return."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy import func, select

from stagewise import DataValidationError
from stagewise.monitor import PerformanceMonitor
from stagewise.monitor.schema import corrections, race_predictions

DAY = "2025-11-17"
ORDER = [3, 1, 2, 4, 5, 6]  # the pick is pit 3


def _row(race: str, result: dict[int, Any] | None, **money: Any) -> dict[str, Any]:
    return {
        "race_id": race,
        "race_date": DAY,
        "venue_code": 1,
        "race_number": 1 + int(race[1:]),
        "predictions": [{"pit_number": p, "total_score": 1.0 / (i + 1)} for i, p in enumerate(ORDER)],
        "actual_results": result,
        **money,
    }


WON = {3: 1, 1: 2, 2: 3, 4: 4, 5: 5, 6: 6}
LOST = {1: 1, 3: 2, 2: 3, 4: 4, 5: 5, 6: 6}
FLYING = {3: "F", 1: 1, 2: 2, 4: 3, 5: 4, 6: 5}  # the pick did not start: the ticket is refunded
VOID = {p: "F" for p in range(1, 7)}


def _profits(m: PerformanceMonitor) -> dict[str, tuple[float, float, float]]:
    out = m.race_outcomes(DAY, DAY)
    return {
        str(rid): (float(stake), float(odds), float(profit))
        for rid, stake, odds, profit in zip(
            out["race_id"], out["bet_stake"], out["bet_odds"], out["bet_profit"], strict=True
        )
    }


def test_profit_per_unit_follows_the_pick_and_its_logged_odds(monitor: PerformanceMonitor) -> None:
    monitor.log_predictions(
        [
            _row("R0", WON, odds=4.2),
            _row("R1", LOST, odds=4.2, stake=300),
            _row("R2", FLYING, odds=4.2),
            _row("R3", VOID, odds=4.2),
            _row("R4", WON, odds=1.0),  # 元返し: the stake back
            _row("R5", WON),  # the seed's shape: no money data
            _row("R6", None, odds=2.5),  # pending
        ]
    )
    got = _profits(monitor)
    assert got["R0"][:2] == (1.0, 4.2)
    assert got["R0"][2] == pytest.approx(3.2)
    assert got["R1"] == (300.0, 4.2, -1.0)
    assert got["R2"][:2] == (1.0, 4.2)
    assert math.isnan(got["R2"][2])
    assert math.isnan(got["R3"][2])
    assert got["R4"][2] == 0.0
    assert all(math.isnan(v) for v in got["R5"])
    assert math.isnan(got["R6"][2])

    monitor.log_result("R6", WON)  # the delayed result settles the bet at the odds logged before
    assert _profits(monitor)["R6"][2] == pytest.approx(1.5)
    monitor.log_result("R6", LOST, reason="photo finish reviewed")  # a corrected result re-scores it
    assert _profits(monitor)["R6"][2] == -1.0
    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None  # money changes no hit-rate figure: 6 settled races, 3 won by the pick
    assert (stats["total_races"], stats["hit_count_1st"]) == (6, 3)


def test_other_odds_for_the_same_prediction_are_a_recorded_correction(monitor: PerformanceMonitor) -> None:
    assert monitor.log_predictions([_row("R0", WON, odds=4.2)]).inserted == 1
    assert monitor.log_predictions([_row("R0", WON, odds=4.2)]).unchanged == 1
    summary = monitor.log_predictions([_row("R0", WON, odds=5.0)], reason="snapshot re-read")
    assert (summary.replaced, summary.corrections) == (1, 1)
    assert _profits(monitor)["R0"][2] == pytest.approx(4.0)
    kinds = monitor.store.read(lambda c: c.execute(select(corrections.c.kind)).scalars().all())
    assert kinds == ["prediction"]


@pytest.mark.parametrize(
    ("money", "needle"),
    [
        ({"odds": 0.8}, "row 1: odds must be decimal odds, a finite number >= 1.0"),
        ({"odds": -2.0}, "odds must be decimal odds"),
        ({"odds": float("nan")}, "odds must be decimal odds"),
        ({"odds": float("inf")}, "odds must be decimal odds"),
        ({"odds": "4.2"}, "odds must be decimal odds"),
        ({"odds": 3.0, "stake": 0}, "row 1: stake must be a finite number > 0; got 0"),
        ({"odds": 3.0, "stake": -1.0}, "stake must be a finite number > 0"),
        ({"stake": 100}, "row 1: stake needs odds"),
    ],
    ids=["below-1", "negative", "nan", "inf", "text", "stake-0", "stake-negative", "stake-without-odds"],
)
def test_bad_money_is_one_line_and_nothing_is_written(
    monitor: PerformanceMonitor, money: dict[str, Any], needle: str
) -> None:
    with pytest.raises(DataValidationError, match=needle) as info:
        monitor.log_predictions([_row("R0", WON, odds=2.0), _row("R1", WON, **money)])
    assert "\n" not in str(info.value)
    count = monitor.store.read(
        lambda c: c.execute(select(func.count()).select_from(race_predictions)).scalar()
    )
    assert count == 0


def test_a_signal_records_its_net_return_after_costs(monitor: PerformanceMonitor) -> None:
    monitor.log_signal("EURUSD", "2025-11-17T10:00", 1, 0.6, model_version="v1")
    monitor.log_signal("EURUSD", "2025-11-17T10:00", 0, 0.4, model_version="v2")
    monitor.log_signal("EURUSD", "2025-11-17T11:00", 1, 0.6, model_version="v1")
    monitor.log_market_outcome("EURUSD", "2025-11-17T10:00", 1, bar_return=0.001, cost=0.0002)
    monitor.log_market_outcome("EURUSD", "2025-11-17T11:00", 0)  # no return logged: no money data
    out = monitor.market_outcomes(DAY, DAY).set_index(["model_version", "ts"])["net_return"]
    assert out.iloc[0] == pytest.approx(0.0008)  # long: the return minus the cost
    assert out.iloc[1] == pytest.approx(-0.0012)  # short: minus the return minus the cost
    assert math.isnan(out.iloc[2])
    with pytest.raises(DataValidationError, match="cost must be a finite number >= 0"):
        monitor.log_market_outcome("EURUSD", "2025-11-17T11:00", 0, bar_return=0.001, cost=-0.1)
    with pytest.raises(DataValidationError, match="bar_return must be a finite number"):
        monitor.log_market_outcome("EURUSD", "2025-11-17T11:00", 0, bar_return=float("nan"))
