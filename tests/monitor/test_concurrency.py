"""Concurrent and crashing writers.

Eight processes logging at once lose no row and never see "database is locked"; a failure or a kill in
the middle of a batch leaves nothing half-written.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from stagewise.monitor import PerformanceMonitor
from stagewise.monitor.schema import boat_predictions, race_predictions, races

WORKERS = 8
BATCHES = 12
PER_BATCH = 20
SINGLES = 10
DAY = "2025-11-17"


def _rows(worker: int, batch: int) -> list[dict[str, Any]]:
    return [
        {
            "race_id": f"W{worker}-B{batch}-{i}",
            "race_date": DAY,
            "venue_code": 1 + worker,
            "race_number": 1 + i % 12,
            "predictions": [1 + (i + k) % 6 for k in range(6)],
            "actual_results": {p: p for p in range(1, 7)},
            "integration_mode": "DYNAMIC",
        }
        for i in range(PER_BATCH)
    ]


def _writer(url: str, worker: int, errors: Any) -> None:
    try:
        monitor = PerformanceMonitor(url)
        for batch in range(BATCHES):
            monitor.log_predictions(_rows(worker, batch))
            if batch < SINGLES:
                row = _rows(worker, 1000 + batch)[0]
                monitor.log_prediction(**row)
                monitor.log_prediction(**row)  # a retried call: must not double-count
        monitor.close()
    except BaseException:
        errors.put(f"worker {worker}: {traceback.format_exc()}")
        raise


def _run_writers(url: str) -> None:
    ctx = mp.get_context("fork")
    errors = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, w, errors)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    messages = []
    while not errors.empty():
        messages.append(errors.get())
    assert not messages, "\n".join(messages)
    assert [p.exitcode for p in procs] == [0] * WORKERS


def _assert_all_rows(url: str) -> None:
    monitor = PerformanceMonitor(url)
    expected = WORKERS * (BATCHES * PER_BATCH + SINGLES)
    counts = monitor.store.read(
        lambda c: [
            int(c.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (races, race_predictions, boat_predictions)
        ]
    )
    assert counts == [expected, expected, expected * 6]
    stats = monitor.calculate_daily_stats(DAY)
    assert stats is not None
    assert stats["total_races"] == expected
    for worker in range(WORKERS):
        per_venue = monitor.calculate_daily_stats(DAY, venue_code=1 + worker)
        assert per_venue is not None
        assert per_venue["total_races"] == BATCHES * PER_BATCH + SINGLES
    monitor.close()


def test_eight_processes_into_one_fresh_sqlite_file(tmp_path: Path) -> None:
    # The file does not exist yet: all eight create and migrate it at once.
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    _run_writers(url)
    _assert_all_rows(url)


@pytest.mark.postgres
@pytest.mark.slow
def test_eight_processes_into_postgresql(pg_schema: str) -> None:
    _run_writers(pg_schema)
    _assert_all_rows(pg_schema)


def test_a_failure_inside_the_transaction_leaves_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stagewise.monitor import ledger

    monitor = PerformanceMonitor(db_url)
    monitor.log_predictions(_rows(0, 0)[:3])

    def boom(*_: Any) -> None:
        raise RuntimeError("disk full")  # after every insert of the batch has been executed

    monkeypatch.setattr(ledger, "bump_days", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        monitor.log_predictions(_rows(1, 0))
    monkeypatch.undo()
    outcomes = monitor.race_outcomes(DAY, DAY)
    assert sorted(outcomes["race_id"]) == sorted(r["race_id"] for r in _rows(0, 0)[:3])
    assert (
        monitor.store.read(lambda c: c.execute(select(func.count()).select_from(boat_predictions)).scalar())
        == 18
    )
    monitor.close()


def _big_batch(url: str) -> None:
    monitor = PerformanceMonitor(url)
    rows = [row for batch in range(200) for row in _rows(7, batch)]
    monitor.log_predictions(rows)


def test_a_process_killed_mid_batch_leaves_all_or_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    PerformanceMonitor(url).close()
    ctx = mp.get_context("fork")
    for delay in (0.05, 0.4, 1.2):
        proc = ctx.Process(target=_big_batch, args=(url,))
        proc.start()
        time.sleep(delay)
        if proc.pid is not None and proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        with sqlite3.connect(tmp_path / "monitor.db") as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            count = raw.execute("SELECT COUNT(*) FROM race_predictions").fetchone()[0]
            boats = raw.execute("SELECT COUNT(*) FROM boat_predictions").fetchone()[0]
        assert count in (0, 200 * PER_BATCH)
        assert boats == 6 * count
    monitor = PerformanceMonitor(url)  # still opens and logs
    monitor.log_prediction(**_rows(3, 0)[0])
    monitor.close()
