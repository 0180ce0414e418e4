"""A ledger written at revision 0001 opens, migrates to 0002 and keeps its figures.

Revision 0001 marked a changed day with ``UPDATE ledger_days SET version = version + 1`` in every
logging transaction; 0002 appends to ``ledger_changes`` instead. The ledger below is built at 0001
with that write path (the 0001 schema by Alembic, rows by the logging code with the 0001 day marker)
and a cached rollup, then opened by today's code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, insert, inspect

from stagewise.monitor import PerformanceMonitor, ledger, stats
from stagewise.monitor.schema import ledger_days, market_signals
from stagewise.monitor.store import _MIGRATIONS, HEAD_REVISION

DAY = "2025-11-17"


def _bump_days_0001(conn: Connection, domain: str, days: Iterable[date]) -> None:
    rows = [{"date": d, "domain": domain, "version": 1} for d in sorted(set(days))]
    ledger.upsert(conn, ledger_days, rows, ("date", "domain"), {"version": lambda ex, t: t.c.version + 1})


_MONEY = ("bet_stake", "bet_odds", "bet_profit")
_ROUTING = ("rollout_feature", "covariate")
_today_prediction_row = ledger.prediction_row


def _prediction_row_before_0003(*args: Any) -> dict[str, Any]:
    """The row today's code writes, without the money columns 0003 and the routing columns 0004 added."""
    return {k: v for k, v in _today_prediction_row(*args).items() if k not in _MONEY + _ROUTING}


def _prediction_row_before_0004(*args: Any) -> dict[str, Any]:
    """The row today's code writes, without the routing columns 0004 added."""
    return {k: v for k, v in _today_prediction_row(*args).items() if k not in _ROUTING}


def _signal_before_0004(url: str, variant: str = "default") -> None:
    """An EURUSD up signal (0.6) at 10:00 on DAY as the code before 0004 stored it (no routing columns)."""
    ts = datetime(2025, 11, 17, 10, 0)
    row = {
        "model_version": "unversioned", "variant": variant, "symbol": "EURUSD", "ts": ts,
        "signal_date": ts.date(), "signal": 1, "probability": 0.6, "outcome": None, "status": "pending",
        "logged_at": ts, "settled_at": None,
    }  # fmt: skip
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(market_signals).values(row))  # only these columns: the old table has no others
    engine.dispose()


def _race(i: int, winner: int) -> dict[str, Any]:
    order = [1, 2, 3, 4, 5, 6]
    finish = [winner] + [p for p in order if p != winner]
    return {
        "race_id": f"R{i}",
        "race_date": DAY,
        "venue_code": 1,
        "race_number": 1 + i,
        "predictions": order,
        "actual_results": {p: r for r, p in enumerate(finish, 1)},
        "integration_mode": "DYNAMIC",
    }


def _schema_at(url: str, revision: str, *, down: bool = False) -> None:
    """The ledger's schema brought by Alembic to ``revision`` (an upgrade, or a downgrade with ``down``)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
    engine.dispose()


def _ledger_at_0001(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _schema_at(url, "0001")
    # the 0001 write path: the day counter row, and no fold before the rollup
    monkeypatch.setattr(ledger, "bump_days", _bump_days_0001)
    monkeypatch.setattr(stats, "fold_changes", lambda conn, domain: None)
    monkeypatch.setattr(ledger, "prediction_row", _prediction_row_before_0003)
    monkeypatch.setattr("stagewise.monitor.store.HEAD_REVISION", "0001")
    old = PerformanceMonitor(url, notifiers=[])
    old.log_predictions([_race(0, 1), _race(1, 1), _race(2, 2)])
    cached = old.calculate_daily_stats(DAY)
    assert cached is not None
    assert (cached["total_races"], cached["hit_count_1st"]) == (3, 2)
    assert old.store.current_revision() == "0001"
    old.close()
    monkeypatch.undo()


def test_a_0001_ledger_migrates_and_keeps_counting(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _ledger_at_0001(db_url, monkeypatch)
    engine = create_engine(db_url)
    assert "ledger_changes" not in inspect(engine).get_table_names()

    monitor = PerformanceMonitor(db_url, notifiers=[])
    assert monitor.store.current_revision() == HEAD_REVISION == "0004"
    assert "ledger_changes" in inspect(engine).get_table_names()
    engine.dispose()
    before = monitor.calculate_daily_stats(DAY)
    assert before is not None
    assert (before["total_races"], before["hit_count_1st"]) == (3, 2)

    monitor.log_prediction(**_race(3, 1))  # a new race on a day whose rollup row was cached at 0001
    monitor.log_prediction(**{**_race(2, 2), "predictions": [2, 1, 3, 4, 5, 6]})  # a correction
    after = monitor.calculate_daily_stats(DAY)
    assert after is not None
    assert (after["total_races"], after["hit_count_1st"]) == (4, 4)
    summary = monitor.log_prediction(**_race(0, 1))
    assert summary.unchanged == 1  # idempotency still comes from the 0001 rows
    monitor.close()


def _ledger_at_0002(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _schema_at(url, "0002")
    monkeypatch.setattr(ledger, "prediction_row", _prediction_row_before_0003)
    monkeypatch.setattr("stagewise.monitor.store.HEAD_REVISION", "0002")
    old = PerformanceMonitor(url, notifiers=[])
    old.log_predictions([_race(0, 1), _race(1, 1), _race(2, 2), {**_race(3, 1), "actual_results": None}])
    _signal_before_0004(url)
    old.log_market_outcome("EURUSD", "2025-11-17T10:00", 1)
    assert old.store.current_revision() == "0002"
    old.close()
    monkeypatch.undo()


def test_a_0002_ledger_gains_the_money_columns_and_loses_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ledger_at_0002(db_url, monkeypatch)
    engine = create_engine(db_url)
    assert "bet_odds" not in {c["name"] for c in inspect(engine).get_columns("race_predictions")}

    monitor = PerformanceMonitor(db_url, notifiers=[])
    assert monitor.store.current_revision() == HEAD_REVISION == "0004"
    columns = {c["name"] for c in inspect(engine).get_columns("race_predictions")}
    assert {"bet_stake", "bet_odds", "bet_profit"} <= columns
    assert "net_return" in {c["name"] for c in inspect(engine).get_columns("market_signals")}
    engine.dispose()

    rows = monitor.race_outcomes(DAY, DAY)
    assert list(rows["race_id"]) == ["R0", "R1", "R2", "R3"]  # every old row kept
    assert rows[["bet_stake", "bet_odds", "bet_profit"]].isna().all().all()  # and carries no money data
    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None
    assert (stats["total_races"], stats["hit_count_1st"]) == (3, 2)
    assert monitor.log_prediction(**_race(0, 1)).unchanged == 1  # the old digests still match
    signals = monitor.market_outcomes(DAY, DAY)
    assert len(signals) == 1
    assert signals["status"].iloc[0] == "settled"

    # the pending race settles after the upgrade; a new race logs its bet
    monitor.log_result("R3", {p: r for r, p in enumerate([1, 2, 3, 4, 5, 6], 1)})
    monitor.log_prediction(**{**_race(4, 1), "odds": 2.4})
    after = monitor.race_outcomes(DAY, DAY).set_index("race_id")
    assert math.isnan(after.loc["R3", "bet_profit"])
    assert after.loc["R4", "bet_profit"] == pytest.approx(1.4)
    monitor.close()


def test_0003_downgrades_to_0002_keeping_every_row(db_url: str) -> None:
    monitor = PerformanceMonitor(db_url, notifiers=[])
    monitor.log_predictions([{**_race(0, 1), "odds": 2.4}, _race(1, 2)])
    monitor.close()
    _schema_at(db_url, "0002", down=True)
    engine = create_engine(db_url)
    assert "bet_odds" not in {c["name"] for c in inspect(engine).get_columns("race_predictions")}
    engine.dispose()
    again = PerformanceMonitor(db_url, notifiers=[])  # upgrades once more; the bet is gone, the rows are not
    rows = again.race_outcomes(DAY, DAY)
    assert list(rows["race_id"]) == ["R0", "R1"]
    assert rows["bet_odds"].isna().all()
    again.close()


def _ledger_at_0003(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _schema_at(url, "0003")
    monkeypatch.setattr(ledger, "prediction_row", _prediction_row_before_0004)
    monkeypatch.setattr("stagewise.monitor.store.HEAD_REVISION", "0003")
    old = PerformanceMonitor(url, notifiers=[])
    old.log_predictions(
        [{**_race(0, 1), "odds": 2.4}, _race(1, 1), _race(2, 2), {**_race(3, 1), "actual_results": None}]
    )
    _signal_before_0004(url, variant="on")
    old.log_market_outcome("EURUSD", "2025-11-17T10:00", 1, bar_return=0.004, cost=0.001)
    assert old.store.current_revision() == "0003"
    old.close()
    monkeypatch.undo()


def test_a_0003_ledger_gains_the_routing_columns_and_loses_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ledger_at_0003(db_url, monkeypatch)
    engine = create_engine(db_url)
    assert "covariate" not in {c["name"] for c in inspect(engine).get_columns("race_predictions")}

    monitor = PerformanceMonitor(db_url, notifiers=[])
    assert monitor.store.current_revision() == HEAD_REVISION == "0004"
    for table in ("race_predictions", "market_signals"):
        assert set(_ROUTING) <= {c["name"] for c in inspect(engine).get_columns(table)}
    engine.dispose()

    rows = monitor.race_outcomes(DAY, DAY).set_index("race_id")
    assert list(rows.index) == ["R0", "R1", "R2", "R3"]  # every old row kept
    assert rows.loc["R0", "bet_profit"] == pytest.approx(1.4)  # with its money
    assert rows["rollout_feature"].isna().all()
    assert rows["covariate"].isna().all()
    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None
    assert (stats["total_races"], stats["hit_count_1st"]) == (3, 2)
    assert monitor.log_prediction(**_race(1, 1)).unchanged == 1  # the old digests still match
    signals = monitor.market_outcomes(DAY, DAY)
    assert signals["net_return"].tolist() == [pytest.approx(0.003)]
    assert signals["rollout_feature"].isna().all()

    # new rows carry their routing; a feature's read keeps the old rows (NULL) and drops other features
    monitor.log_prediction(**_race(4, 1), rollout_feature="new_model", covariate=0.41)
    monitor.log_prediction(**_race(5, 1), rollout_feature="other_model", covariate=0.52)
    monitor.log_result("R3", {p: r for r, p in enumerate([1, 2, 3, 4, 5, 6], 1)})
    ours = monitor.race_outcomes(DAY, DAY, rollout_feature="new_model").set_index("race_id")
    assert list(ours.index) == ["R0", "R1", "R2", "R3", "R4"]
    assert ours.loc["R4", ["rollout_feature", "covariate"]].tolist() == ["new_model", 0.41]
    assert list(monitor.race_outcomes(DAY, DAY, rollout_feature="other_model")["race_id"]) == [
        "R0", "R1", "R2", "R3", "R5",
    ]  # fmt: skip
    monitor.close()


def test_0004_downgrades_to_0003_keeping_every_row(db_url: str) -> None:
    monitor = PerformanceMonitor(db_url, notifiers=[])
    monitor.log_predictions(
        [
            {**_race(0, 1), "odds": 2.4, "rollout_feature": "new_model", "covariate": 0.4},
            {**_race(1, 2), "rollout_feature": "new_model", "covariate": 0.3},
            _race(2, 2),
        ]
    )
    monitor.log_signal("EURUSD", "2025-11-17T10:00", 1, 0.6, rollout_feature="new_model", covariate=0.55)
    monitor.close()
    _schema_at(db_url, "0003", down=True)
    engine = create_engine(db_url)
    for table in ("race_predictions", "market_signals"):
        assert not set(_ROUTING) & {c["name"] for c in inspect(engine).get_columns(table)}
    engine.dispose()
    again = PerformanceMonitor(db_url, notifiers=[])  # upgrades once more; the routing is gone, the rows not
    rows = again.race_outcomes(DAY, DAY)
    assert list(rows["race_id"]) == ["R0", "R1", "R2"]
    assert rows["bet_odds"].tolist()[0] == 2.4  # the money of 0003 survives the downgrade
    assert rows["covariate"].isna().all()
    assert len(again.market_outcomes(DAY, DAY)) == 1
    again.close()
