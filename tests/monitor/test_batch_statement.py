"""The server's batches on PostgreSQL: new races in one statement, the same rows as the general path."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from ledger_helpers import FakeClock
from sqlalchemy import select

from stagewise import DataValidationError
from stagewise.monitor import PerformanceMonitor
from stagewise.monitor.records import BoatScore, RacePrediction
from stagewise.monitor.schema import boat_predictions, ledger_changes, race_predictions, races

pytestmark = pytest.mark.postgres

DAY = date(2025, 11, 17)


def _record(
    race_id: str, k: int, *, day: date = DAY, order: tuple[int, ...] = (3, 1, 2, 4, 5, 6)
) -> RacePrediction:
    scores = [0.4, 0.2, 0.15, 0.1, 0.1, 0.05]
    return RacePrediction(
        race_id=race_id,
        race_date=day + timedelta(days=k % 2),
        venue_code=k % 24 + 1,
        race_number=k % 12 + 1,
        boats=tuple(BoatScore(p, s, s) for p, s in zip(order, scores, strict=True)),
        model_version="v1" if k % 3 else "v2",
        variant="control" if k % 2 else "enabled",
        feature_flags={"challenger_model": bool(k % 2)},
        odds=2.5 if k % 4 == 0 else None,
        stake=1.0 if k % 4 == 0 else None,
        rollout_feature="challenger_model" if k % 3 else None,
        covariate=0.25 * k if k % 5 else None,
    )


def _stored(monitor: PerformanceMonitor, prefix: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the three tables whose race_id starts with ``prefix`` (ids and the prefix dropped)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in (races, race_predictions, boat_predictions):
        cols = [c for c in table.c if c.name != "id"]
        query = select(*cols).where(table.c.race_id.startswith(prefix))
        rows = monitor.store.read(lambda c, q=query: c.execute(q).all())
        out[table.name] = sorted(
            (tuple(v.removeprefix(prefix) if isinstance(v, str) else v for v in r) for r in rows), key=repr
        )
    return out


def test_a_batch_of_new_races_stores_what_one_call_per_race_stores(pg_schema: str) -> None:
    monitor = PerformanceMonitor(pg_schema, notifiers=[], clock=FakeClock())
    batch = [_record(f"batch-R{k}", k) for k in range(25)]
    summary = monitor.log_records(batch)
    assert (summary.inserted, summary.pending, summary.unchanged) == (25, 25, 0)
    for k in range(25):  # one statement per race: the path test_concurrent_writers checks against the rest
        monitor.log_records([_record(f"single-R{k}", k)])
    assert _stored(monitor, "batch-") == _stored(monitor, "single-")
    days = monitor.store.read(lambda c: c.execute(select(ledger_changes.c.date)).scalars().all())
    assert set(days) == {DAY, DAY + timedelta(days=1)}
    monitor.close()


def test_a_batch_mixing_new_stored_and_changed_races_gives_the_general_answer(pg_schema: str) -> None:
    monitor = PerformanceMonitor(pg_schema, notifiers=[], clock=FakeClock())
    monitor.log_records([_record("R1", 1), _record("R2", 2)])
    batch = [_record("R1", 1), _record("R2", 2, order=(1, 2, 3, 4, 5, 6)), _record("R3", 3)]
    summary = monitor.log_records(batch)
    assert (summary.inserted, summary.unchanged, summary.replaced, summary.corrections) == (1, 1, 1, 1)
    orders = dict(
        monitor.store.read(
            lambda c: c.execute(select(race_predictions.c.race_id, race_predictions.c.predicted_order)).all()
        )
    )
    assert orders == {"R1": "3-1-2-4-5-6", "R2": "1-2-3-4-5-6", "R3": "3-1-2-4-5-6"}
    monitor.close()


def test_a_batch_with_a_race_stored_under_another_identity_writes_nothing(pg_schema: str) -> None:
    monitor = PerformanceMonitor(pg_schema, notifiers=[], clock=FakeClock())
    monitor.log_records([_record("OLD", 1)])
    moved = _record("OLD", 1, day=DAY + timedelta(days=30))
    with pytest.raises(DataValidationError, match="race_id 'OLD' is already logged"):
        monitor.log_records([_record("NEW1", 2), moved, _record("NEW2", 3)])
    ids = monitor.store.read(lambda c: c.execute(select(races.c.race_id)).scalars().all())
    assert ids == ["OLD"]  # all or nothing: the new races of the refused batch are not half-written
    monitor.close()


def test_the_server_queue_writes_every_other_row_of_a_refused_batch(pg_schema: str) -> None:
    from stagewise.serve.logging_queue import LedgerQueue, MonitorSink

    monitor = PerformanceMonitor(pg_schema, notifiers=[], clock=FakeClock())
    monitor.log_records([_record("OLD", 1)])
    sink = MonitorSink(pg_schema)
    queue: LedgerQueue[Any] = LedgerQueue(sink, batch_size=50, flush_interval_s=0.2)
    rows = [_record(f"Q{k}", k) for k in range(20)]
    rows.insert(7, _record("OLD", 1, day=DAY + timedelta(days=30)))
    for row in rows:  # queued before the writer starts: one batch of 21
        assert queue.submit("race", row)
    queue.start()
    assert queue.close(timeout=30.0) == 0
    stats = queue.stats()
    assert (stats.written, stats.rejected) == (20, 1)
    ids = monitor.store.read(lambda c: c.execute(select(races.c.race_id)).scalars().all())
    assert sorted(ids) == sorted(["OLD", *(f"Q{k}" for k in range(20))])
    sink.close()
    monitor.close()
