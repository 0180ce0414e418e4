"""Every malformed call raises a DataValidationError naming the field and stores nothing."""

from __future__ import annotations

from typing import Any

import pytest
from ledger_helpers import seed_pred, seed_result
from sqlalchemy import func, select

from stagewise import DataValidationError, NotFoundError
from stagewise.monitor import PerformanceMonitor
from stagewise.monitor.schema import boat_predictions, corrections, ledger_days, race_predictions, races

GOOD: dict[str, Any] = {
    "race_id": "R1",
    "race_date": "2025-11-17",
    "venue_code": "01",
    "race_number": 1,
    "predictions": seed_pred(),
    "actual_results": seed_result((1, 2, 3, 4, 5, 6)),
    "integration_mode": "DYNAMIC",
    "feature_flags": {"dynamic_integration": True},
}

_dup_pred = [*seed_pred()[:5], {"pit_number": 1, "total_score": 0.1}]
_rank_7 = [{"pit_number": p, "rank": 7 if p == 6 else p} for p in range(1, 7)]

BAD = [
    pytest.param({"predictions": [*seed_pred()[:5], {"pit_number": 7}]}, "pit_number", id="unknown-pit-7"),
    pytest.param({"predictions": [{"pit_number": 0}]}, "pit_number", id="pit-0"),
    pytest.param({"predictions": _dup_pred}, "more than once", id="duplicate-predicted-pit"),
    pytest.param(
        {"actual_results": [*seed_result((1, 2, 3, 4, 5)), {"pit_number": 5, "rank": 6}]},
        "more than once",
        id="duplicate-result-pit",
    ),
    pytest.param({"actual_results": _rank_7}, "rank", id="rank-7"),
    pytest.param({"actual_results": {1: 0, 2: 1}}, "actual_results[1]", id="rank-0"),
    pytest.param(
        {"actual_results": {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5}}, "rank(s) [1]", id="same-rank-twice"
    ),
    pytest.param(
        {"actual_results": {p: "X" if p == 1 else p for p in range(1, 7)}},
        "non-finish status",
        id="unknown-status",
    ),
    pytest.param({"race_date": "2025-02-30"}, "race_date", id="impossible-date"),
    pytest.param({"race_date": "yesterday"}, "race_date", id="date-not-a-date"),
    pytest.param({"race_date": 20251117}, "race_date", id="date-as-int"),
    pytest.param(
        {"predictions": [{"pit_number": 1, "total_score": float("nan")}]}, "total_score", id="nan-score"
    ),
    pytest.param(
        {"predictions": [{"pit_number": 1, "total_score": float("inf")}]}, "total_score", id="inf-score"
    ),
    pytest.param({"predictions": [{"pit_number": 1, "win_prob": 1.5}]}, "win_prob", id="prob-above-1"),
    pytest.param({"predictions": []}, "at least one pit", id="no-prediction"),
    pytest.param({"predictions": [{"total_score": 1.0}]}, "pit_number", id="prediction-without-pit"),
    pytest.param({"predictions": "1-2-3"}, "predictions must be", id="predictions-a-string"),
    pytest.param({"venue_code": 25}, "venue_code", id="venue-25"),
    pytest.param({"venue_code": "abc"}, "venue_code", id="venue-text"),
    pytest.param({"race_number": 13}, "race_number", id="race-number-13"),
    pytest.param({"race_number": True}, "race_number", id="race-number-bool"),
    pytest.param({"race_id": ""}, "race_id", id="empty-race-id"),
    pytest.param({"race_id": None}, "race_id", id="race-id-none"),
    pytest.param({"feature_flags": {"x": object()}}, "feature_flags", id="flags-not-json"),
    pytest.param({"feature_flags": ["dynamic"]}, "feature_flags", id="flags-not-a-dict"),
    pytest.param({"model_version": ""}, "model_version", id="empty-model-version"),
    pytest.param(
        {"actual_results": seed_result((1, 2, 3, 4, 5))}, "not in actual_results", id="pit-without-result"
    ),
]


def _counts(m: PerformanceMonitor) -> list[int]:
    tables = (races, race_predictions, boat_predictions, corrections, ledger_days)
    return m.store.read(
        lambda c: [int(c.execute(select(func.count()).select_from(t)).scalar_one()) for t in tables]
    )


@pytest.mark.parametrize(("change", "needle"), BAD)
def test_bad_single_call_names_the_problem_and_stores_nothing(
    monitor: PerformanceMonitor, change: dict[str, Any], needle: str
) -> None:
    with pytest.raises(DataValidationError) as info:
        monitor.log_prediction(**{**GOOD, **change})
    assert needle in str(info.value)
    assert _counts(monitor) == [0, 0, 0, 0, 0]


@pytest.mark.parametrize(("change", "needle"), BAD[:6])
def test_one_bad_row_rejects_the_whole_batch(
    monitor: PerformanceMonitor, change: dict[str, Any], needle: str
) -> None:
    rows = [{**GOOD, "race_id": f"OK{i}"} for i in range(5)] + [{**GOOD, **change, "race_id": "BAD"}]
    with pytest.raises(DataValidationError) as info:
        monitor.log_predictions(rows)
    assert "row 5" in str(info.value)
    assert needle in str(info.value)
    assert _counts(monitor) == [0, 0, 0, 0, 0]


def test_a_race_under_two_dates_is_refused_and_the_first_kept(monitor: PerformanceMonitor) -> None:
    monitor.log_prediction(**GOOD)
    before = _counts(monitor)
    with pytest.raises(
        DataValidationError, match=r"race_id 'R1' is already logged with race_date=2025-11-17"
    ):
        monitor.log_prediction(**{**GOOD, "race_date": "2025-11-18", "model_version": "v2"})
    assert _counts(monitor) == before
    # inside one batch the conflict also rolls back the rows logged before it
    rows = [{**GOOD, "race_id": "NEW"}, {**GOOD, "race_id": "R1", "race_date": "2025-11-19"}]
    with pytest.raises(DataValidationError, match="race_date=2025-11-19"):
        monitor.log_predictions(rows)
    assert _counts(monitor) == before
    stats = monitor.calculate_daily_stats("2025-11-17")
    assert stats is not None
    assert stats["total_races"] == 1


def test_batch_rows_must_be_known_fields(monitor: PerformanceMonitor) -> None:
    with pytest.raises(DataValidationError, match=r"row 0: unknown field\(s\) \['pit'\]"):
        monitor.log_predictions([{**GOOD, "pit": 1}])
    with pytest.raises(DataValidationError, match=r"row 0: missing field\(s\) \['predictions'\]"):
        monitor.log_predictions([{k: v for k, v in GOOD.items() if k != "predictions"}])


def test_result_for_an_unknown_race_is_not_found(monitor: PerformanceMonitor) -> None:
    with pytest.raises(NotFoundError, match="'NOPE'"):
        monitor.log_result("NOPE", {1: 1})
    with pytest.raises(DataValidationError, match="needs a result"):
        monitor.log_result("NOPE", [])


def test_a_result_that_misses_a_predicted_boat_is_refused(monitor: PerformanceMonitor) -> None:
    monitor.log_prediction(**{**GOOD, "actual_results": None})
    before = _counts(monitor)
    with pytest.raises(DataValidationError, match="not in the result"):
        monitor.log_result("R1", {1: 1, 2: 2, 3: 3})
    assert _counts(monitor) == before


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        pytest.param({"signal": 2}, "signal", id="signal-2"),
        pytest.param({"probability": 1.2}, "probability", id="probability-1.2"),
        pytest.param({"probability": float("nan")}, "probability", id="probability-nan"),
        pytest.param({"timestamp": "not a time"}, "timestamp", id="bad-timestamp"),
        pytest.param({"symbol": ""}, "symbol", id="empty-symbol"),
    ],
)
def test_bad_market_signal(monitor: PerformanceMonitor, kwargs: dict[str, Any], needle: str) -> None:
    call: dict[str, Any] = {
        "symbol": "EURUSD",
        "timestamp": "2025-11-17T10:00",
        "signal": 1,
        "probability": 0.6,
    }
    with pytest.raises(DataValidationError, match=needle):
        monitor.log_signal(**{**call, **kwargs})
