"""A ledger written at revision 0001 opens, migrates to 0002 and keeps its figures.

Revision 0001 marked a changed day with ``UPDATE ledger_days SET version = version + 1`` in every
logging transaction; 0002 appends to ``ledger_changes`` instead. The ledger below is built at 0001
with that write path (the 0001 schema by Alembic, rows by the logging code with the 0001 day marker)
and a cached rollup, then opened by today's code.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, inspect

from stagewise.monitor import PerformanceMonitor, ledger, stats
from stagewise.monitor.schema import ledger_days
from stagewise.monitor.store import _MIGRATIONS, HEAD_REVISION

DAY = "2025-11-17"


def _bump_days_0001(conn: Connection, domain: str, days: Iterable[date]) -> None:
    rows = [{"date": d, "domain": domain, "version": 1} for d in sorted(set(days))]
    ledger.upsert(conn, ledger_days, rows, ("date", "domain"), {"version": lambda ex, t: t.c.version + 1})


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


def _ledger_at_0001(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    engine.dispose()
    # the 0001 write path: the day counter row, and no fold before the rollup
    monkeypatch.setattr(ledger, "bump_days", _bump_days_0001)
    monkeypatch.setattr(stats, "fold_changes", lambda conn, domain: None)
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
    assert monitor.store.current_revision() == HEAD_REVISION == "0002"
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
