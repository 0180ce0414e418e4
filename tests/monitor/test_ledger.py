"""The ledger on SQLite and PostgreSQL: seed calls, golden stats, pending results, idempotency."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pandas as pd
import pytest
from ledger_helpers import seed_pred, seed_result
from sqlalchemy import func, select

from stagewise.monitor import PerformanceMonitor
from stagewise.monitor.schema import boat_predictions, corrections, race_predictions
from stagewise.monitor.store import HEAD_REVISION

DAY = "2025-11-17"


def _log(
    m: PerformanceMonitor, race_id: str, finish: Any, order: tuple[int, ...] = (1, 2, 3, 4, 5, 6), **kw: Any
) -> Any:
    base: dict[str, Any] = {
        "race_date": DAY,
        "venue_code": "01",
        "race_number": 1,
        "integration_mode": "DYNAMIC",
    }
    base.update(kw)
    return m.log_prediction(
        race_id=race_id,
        predictions=seed_pred(order),
        actual_results=None if finish is None else seed_result(finish),
        feature_flags={"dynamic_integration": True},
        **base,
    )


def _count(m: PerformanceMonitor, table: Any) -> int:
    return int(m.store.read(lambda c: c.execute(select(func.count()).select_from(table)).scalar_one()))


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_golden_day_computed_by_hand(monitor: PerformanceMonitor) -> None:
    _log(monitor, "R1", (1, 2, 3, 4, 5, 6))  # perfect: win, trifecta, trio, accuracy 1
    _log(monitor, "R2", (2, 1, 3, 4, 5, 6))  # trio only; rho = 1 - 6*2/(6*35)
    _log(monitor, "R3", (1, 2, 3, 4, 5, 6), order=(6, 5, 4, 3, 2, 1))  # reversed: accuracy 0
    # Predicted winner 4 never started (F): a miss; 6 capsized (転) ties last; accuracy over starters = 1.
    _log(monitor, "R4", (1, 2, 3, 5, "4:F", "6:転"), order=(4, 1, 2, 3, 5, 6))
    _log(monitor, "R5", None)  # no result yet: pending
    _log(monitor, "R6", ("1:F", "2:F", "3:F", "4:F", "5:F", "6:F"))  # nobody finished first: void
    _log(monitor, "X1", (1, 2, 3, 4, 5, 6), race_date="2025-11-18")  # another day, not counted

    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None
    acc_r2 = (1 + (1 - 6 * 2 / (6 * 35))) / 2
    assert stats["date"] == DAY
    assert stats["total_races"] == 4
    assert (stats["hit_count_1st"], stats["hit_count_top3"], stats["hit_count_trio"]) == (1, 1, 2)
    assert stats["hit_rate_1st"] == pytest.approx(1 / 4)
    assert stats["hit_rate_top3"] == pytest.approx(1 / 4)
    assert stats["hit_rate_trio"] == pytest.approx(2 / 4)
    assert stats["avg_score_accuracy"] == pytest.approx((1.0 + acc_r2 + 0.0 + 1.0) / 4)
    assert (stats["pending_races"], stats["void_races"]) == (1, 1)
    low, high = _wilson(1, 4)
    assert stats["hit_rate_1st_ci_low"] == pytest.approx(low)
    assert stats["hit_rate_1st_ci_high"] == pytest.approx(high)
    assert stats["hit_rate_trio_ci_low"] == pytest.approx(_wilson(2, 4)[0])


def test_seed_keys_and_none_for_a_day_without_races(monitor: PerformanceMonitor) -> None:
    assert monitor.calculate_daily_stats(DAY) is None
    _log(monitor, "12345", (1, 2, 3, 4, 5, 6))
    stats = monitor.calculate_daily_stats(date(2025, 11, 17))
    assert stats is not None
    seed_keys = {"date", "total_races", "hit_count_1st", "hit_count_top3", "hit_rate_1st", "hit_rate_top3"}
    assert seed_keys | {"avg_score_accuracy"} <= set(stats)
    trend = monitor.get_performance_trend(days=30, end_date="2025-11-30")
    assert [d["date"] for d in trend] == [DAY]
    assert trend[0]["total_races"] == 1


def test_pending_prediction_is_settled_by_a_delayed_result(monitor: PerformanceMonitor) -> None:
    _log(monitor, "R1", None)
    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None
    assert stats["total_races"] == 0
    assert stats["pending_races"] == 1
    monitor.log_result("R1", seed_result((1, 2, 3, 4, 5, 6)))
    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None
    assert (stats["total_races"], stats["pending_races"], stats["hit_count_1st"]) == (1, 0, 1)
    boats = monitor.store.read(
        lambda c: c.execute(select(boat_predictions.c.pit, boat_predictions.c.finish_rank)).all()
    )
    assert sorted(boats) == [(p, p) for p in range(1, 7)]


def test_logging_the_same_race_again_never_double_counts(monitor: PerformanceMonitor) -> None:
    for _ in range(3):
        _log(monitor, "R1", (1, 2, 3, 4, 5, 6))
        _log(monitor, "R2", None)
    monitor.log_result("R2", seed_result((2, 1, 3, 4, 5, 6)))
    monitor.log_result("R2", seed_result((2, 1, 3, 4, 5, 6)))
    _log(monitor, "R2", None)  # an empty result never erases a known one
    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None
    assert (stats["total_races"], stats["hit_count_1st"], stats["pending_races"]) == (2, 1, 0)
    assert _count(monitor, race_predictions) == 2
    assert _count(monitor, boat_predictions) == 12
    assert _count(monitor, corrections) == 0


def test_a_changed_result_is_an_explicit_correction(monitor: PerformanceMonitor) -> None:
    _log(monitor, "R1", (1, 2, 3, 4, 5, 6))
    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None
    assert stats["hit_count_1st"] == 1
    summary = monitor.log_result("R1", seed_result((2, 1, 3, 4, 5, 6)), reason="judges' decision")
    assert summary.corrections == 1
    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None
    assert (stats["total_races"], stats["hit_count_1st"]) == (1, 0)
    rows = monitor.store.read(lambda c: c.execute(select(corrections)).mappings().all())
    assert len(rows) == 1
    assert rows[0]["kind"] == "result"
    assert rows[0]["race_id"] == "R1"
    assert rows[0]["old_value"].startswith('{"1":1,"2":2')
    assert rows[0]["new_value"].startswith('{"1":2,"2":1')
    assert rows[0]["reason"] == "judges' decision"


def test_a_changed_prediction_replaces_it_and_is_recorded(monitor: PerformanceMonitor) -> None:
    _log(monitor, "R1", (1, 2, 3, 4, 5, 6))
    _log(monitor, "R1", None, order=(2, 1, 3, 4, 5, 6))
    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None
    assert (stats["total_races"], stats["hit_count_1st"]) == (1, 0)
    rows = monitor.store.read(lambda c: c.execute(select(corrections)).mappings().all())
    assert [(r["kind"], r["old_value"], r["new_value"]) for r in rows] == [
        ("prediction", "1-2-3-4-5-6", "2-1-3-4-5-6")
    ]
    assert _count(monitor, boat_predictions) == 6


def test_one_result_rescores_every_model_version(monitor: PerformanceMonitor) -> None:
    _log(monitor, "R1", None, model_version="champion", variant="control")
    _log(monitor, "R1", None, order=(2, 1, 3, 4, 5, 6), model_version="challenger", variant="treatment")
    monitor.log_result("R1", {1: 2, 2: 1, 3: 3, 4: 4, 5: 5, 6: 6})
    champion = monitor.calculate_daily_stats(DAY, model_version="champion")
    challenger = monitor.calculate_daily_stats(DAY, variant="treatment")
    both = monitor.calculate_daily_stats(DAY)
    assert champion is not None
    assert challenger is not None
    assert both is not None
    assert (champion["hit_count_1st"], challenger["hit_count_1st"]) == (0, 1)
    assert challenger["hit_count_top3"] == 1
    assert both["total_races"] == 2
    assert challenger["segment"] == {"variant": "treatment"}


def test_segments_cut_the_day(monitor: PerformanceMonitor) -> None:
    _log(monitor, "A1", (1, 2, 3, 4, 5, 6), venue_code=1, integration_mode="DYNAMIC")
    _log(monitor, "A2", (2, 1, 3, 4, 5, 6), venue_code=1, integration_mode="STATIC")
    _log(monitor, "B1", (1, 2, 3, 4, 5, 6), venue_code=24, integration_mode="STATIC")
    venue1 = monitor.calculate_daily_stats(DAY, venue_code="01")
    static = monitor.calculate_daily_stats(DAY, integration_mode="STATIC")
    both = monitor.calculate_daily_stats(DAY, venue_code=24, integration_mode="STATIC")
    none = monitor.calculate_daily_stats(DAY, venue_code=5)
    assert venue1 is not None
    assert static is not None
    assert both is not None
    assert (venue1["total_races"], venue1["hit_count_1st"]) == (2, 1)
    assert (static["total_races"], static["hit_count_1st"]) == (2, 1)
    assert (both["total_races"], both["hit_count_1st"]) == (1, 1)
    assert none is None
    trend = monitor.get_performance_trend(3, end_date=DAY, venue_code=24)
    assert [d["total_races"] for d in trend] == [1]


def test_trend_refreshes_a_day_that_changed_after_its_rollup(monitor: PerformanceMonitor) -> None:
    _log(monitor, "R1", (1, 2, 3, 4, 5, 6))
    _log(monitor, "S1", (1, 2, 3, 4, 5, 6), race_date="2025-11-16")
    first = monitor.get_performance_trend(7, end_date=DAY)
    assert [d["total_races"] for d in first] == [1, 1]
    _log(monitor, "R2", (2, 1, 3, 4, 5, 6))
    second = monitor.get_performance_trend(7, end_date=DAY)
    assert [(d["date"], d["total_races"], d["hit_count_1st"]) for d in second] == [
        ("2025-11-16", 1, 1),
        (DAY, 2, 1),
    ]


def test_batch_logging_equals_one_by_one(db_url: str, tmp_path: Any) -> None:
    rows = [
        {"race_id": f"R{i}", "race_date": DAY, "venue_code": 1 + i % 24, "race_number": 1 + i % 12,
         "predictions": [1 + (i + k) % 6 for k in range(6)], "actual_results": {p: p for p in range(1, 7)},
         "integration_mode": "DYNAMIC", "model_version": "v1"}
        for i in range(30)
    ]  # fmt: skip
    batch = PerformanceMonitor(db_url)
    summary = batch.log_predictions(rows)
    assert summary.inserted == 30
    single = PerformanceMonitor(f"sqlite:///{tmp_path / 'single.db'}")
    for row in rows:
        single.log_prediction(**row)
    assert batch.calculate_daily_stats(DAY) == single.calculate_daily_stats(DAY)
    batch.close()
    single.close()


def test_richer_shapes_are_accepted(monitor: PerformanceMonitor) -> None:
    by_score = {2: 0.9, 1: 0.5, 3: 0.2, 4: 0.1, 5: 0.05, 6: 0.01}
    monitor.log_prediction("M1", DAY, 3, 1, by_score, {2: 1, 1: 2, 3: 3, 4: 4, 5: 5, 6: "欠"})
    finish = [{"pit_number": p, "rank": r} for r, p in enumerate((2, 1, 3, 4, 5, 6), 1)]
    monitor.log_prediction("M2", DAY, 3, 2, [2, 1, 3], finish)
    ranked = [
        {"pit": 3, "predicted_rank": 2, "score": 0.3, "win_prob": 0.3},
        {"pit": 1, "predicted_rank": 1, "win_prob": 0.7},
    ]
    monitor.log_prediction("M3", DAY, 3, 3, ranked, {1: 1, 3: 2, 2: 3, 4: 4, 5: 5, 6: 6})
    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None
    # M1 and M2 name the right 1-2-3 in order; M3 predicts only two boats, so no trifecta.
    assert (stats["total_races"], stats["hit_count_1st"], stats["hit_count_top3"]) == (3, 3, 2)
    orders = monitor.race_outcomes(DAY, DAY)
    assert list(orders["race_id"]) == ["M1", "M2", "M3"]


def test_race_outcomes_for_the_rollout_controller(monitor: PerformanceMonitor) -> None:
    _log(monitor, "R1", (1, 2, 3, 4, 5, 6), model_version="v2", variant="treatment")
    _log(monitor, "R2", None, model_version="v2", variant="treatment")
    _log(monitor, "R3", (2, 1, 3, 4, 5, 6), model_version="v1", variant="control")
    _log(
        monitor,
        "R4",
        ("1:F",) * 1 + ("2:F", "3:F", "4:F", "5:F", "6:F"),
        model_version="v2",
        variant="treatment",
    )
    out = monitor.race_outcomes("2025-11-01", "2025-11-30", variant="treatment")
    assert list(out.columns) == [
        "race_id", "race_date", "venue_code", "variant", "model_version", "integration_mode",
        "hit_1st", "hit_top3", "hit_trio", "score_accuracy", "status", "bet_stake", "bet_odds", "bet_profit",
        "rollout_feature", "covariate",
    ]  # fmt: skip
    assert list(out["race_id"]) == ["R1", "R2", "R4"]
    assert list(out["status"]) == ["settled", "pending", "void"]
    assert out["hit_1st"].tolist()[0] is True
    assert out["hit_1st"].isna().tolist() == [False, True, True]
    assert out["race_date"].dtype == "datetime64[ns]"
    assert out["race_date"].iloc[0] == pd.Timestamp(DAY)
    assert monitor.race_outcomes("2025-11-18", "2025-11-30").empty


def test_market_signals_daily_accuracy_f1_mcc(monitor: PerformanceMonitor) -> None:
    # tp=2, fp=1, tn=1, fn=1 and one pending signal
    cases = [(1, 1), (1, 1), (1, 0), (0, 0), (0, 1)]
    for hour, (signal, outcome) in enumerate(cases):
        monitor.log_signal("EURUSD", f"{DAY}T{hour:02d}:00:00", signal, 0.6, model_version="m1")
        monitor.log_market_outcome("EURUSD", f"{DAY}T{hour:02d}:00:00", outcome)
    monitor.log_signal("EURUSD", f"{DAY}T10:00:00+00:00", 1, 0.7, model_version="m1")
    monitor.log_signal("EURUSD", f"{DAY}T00:00:00", 1, 0.6, model_version="m1")  # again: no-op
    stats = monitor.calculate_market_stats(DAY)
    assert stats is not None
    assert (stats["tp"], stats["fp"], stats["tn"], stats["fn"], stats["pending_signals"]) == (2, 1, 1, 1, 1)
    assert stats["accuracy"] == pytest.approx(3 / 5)
    assert stats["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert stats["mcc"] == pytest.approx((2 * 1 - 1 * 1) / math.sqrt(3 * 3 * 2 * 2))
    monitor.log_market_outcome("EURUSD", f"{DAY}T02:00:00", 1, reason="late tick")  # fp becomes tp
    fixed = monitor.calculate_market_stats(DAY)
    assert fixed is not None
    assert (fixed["tp"], fixed["fp"]) == (3, 0)
    assert [t["total_signals"] for t in monitor.get_market_trend(2, end_date=DAY)] == [5]


def test_seed_constructor_creates_the_sqlite_file_with_wal(tmp_path: Any) -> None:
    path = tmp_path / "data" / "monitor.db"
    m = PerformanceMonitor(db_path="data/boatrace.db", monitor_db=str(path))
    assert path.exists()
    assert str(m.db_path) == "data/boatrace.db"
    mode = m.store.read(lambda c: c.exec_driver_sql("PRAGMA journal_mode").scalar())
    busy = m.store.read(lambda c: c.exec_driver_sql("PRAGMA busy_timeout").scalar())
    assert (mode, busy) == ("wal", 30000)
    assert m.store.current_revision() == HEAD_REVISION
    m.close()
    again = PerformanceMonitor(f"sqlite:///{path}")  # reopening runs no migration twice
    assert again.store.current_revision() == HEAD_REVISION == "0004"
    again.close()


def test_the_seed_positional_call_takes_db_path_then_monitor_db(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``PerformanceMonitor("data/boatrace.db", "data/monitor.db")``: the ledger is the second argument."""
    from pathlib import Path

    from stagewise import ConfigError

    monkeypatch.chdir(tmp_path)
    m = PerformanceMonitor("data/boatrace.db", "data/monitor.db")
    assert (tmp_path / "data" / "monitor.db").exists()
    assert not (tmp_path / "data" / "boatrace.db").exists()  # the race database is never written
    assert str(m.db_path) == "data/boatrace.db"
    assert m.url == "sqlite:///data/monitor.db"
    m.close()
    with PerformanceMonitor(Path("data/boatrace.db"), monitor_db=Path("data/other.db")) as again:
        assert again.url == "sqlite:///data/other.db"
        assert again.db_path == Path("data/boatrace.db")
    with PerformanceMonitor("data/monitor.db") as single:  # one positional value is still the ledger
        assert (single.url, single.db_path) == ("sqlite:///data/monitor.db", None)
    with pytest.raises(ConfigError, match="either db_url or monitor_db"):
        PerformanceMonitor("sqlite:///data/monitor.db", "data/monitor.db")


def test_seed_tables_exist(monitor: PerformanceMonitor) -> None:
    from sqlalchemy import inspect

    names = set(inspect(monitor.store.engine).get_table_names())
    assert {"daily_performance", "race_predictions", "alerts"} <= names
    assert {"races", "boat_predictions", "corrections", "alert_state", "stagewise_monitor_version"} <= names
    _log(monitor, "R1", (1, 2, 3, 4, 5, 6))
    monitor.calculate_daily_stats(DAY)
    from stagewise.monitor.schema import daily_performance

    assert _count(monitor, daily_performance) == 1


def test_migrations_create_exactly_the_declared_schema(monitor: PerformanceMonitor) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from stagewise.monitor.schema import VERSION_TABLE, metadata

    def _diff(conn: Any) -> list[Any]:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        return [d for d in diffs if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)]

    assert monitor.store.read(_diff) == []
