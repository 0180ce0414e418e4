"""The ledger queue: order, batching, retries through outages, shedding, refusal, drain."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise._exceptions import DataValidationError, StorageError
from stagewise.serve.logging_queue import LedgerQueue
from stagewise.serve.metrics import ServeMetrics


class FlakySink:
    """Fails the first ``failures`` writes (like a database that is down), then records batches."""

    def __init__(self, failures: int = 0, bad: set[str] | None = None) -> None:
        self.failures = failures
        self.bad = bad or set()
        self.batches: list[tuple[str, list[Mapping[str, Any]]]] = []
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()

    def write(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self.gate.wait()
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise StorageError("the monitor database is down")
        refused = [r["id"] for r in rows if r["id"] in self.bad]
        if refused:
            raise DataValidationError(f"row {refused[0]} is invalid")
        self.batches.append((kind, list(rows)))

    @property
    def rows(self) -> list[Mapping[str, Any]]:
        return [r for _, batch in self.batches for r in batch]


def _queue(sink: Any, **kw: Any) -> LedgerQueue:
    options = {"batch_size": 7, "flush_interval_s": 0.005, "retry_max_backoff_s": 0.02, **kw}
    q = LedgerQueue(sink, **options)
    q.start()
    return q


@settings(max_examples=25, deadline=None)
@given(kinds=st.lists(st.sampled_from(["race", "signal"]), max_size=60), failures=st.integers(0, 4))
def test_every_row_is_written_once_in_order_through_failures(kinds: list[str], failures: int) -> None:
    sink = FlakySink(failures=failures)
    q = _queue(sink)
    for i, kind in enumerate(kinds):
        assert q.submit(kind, {"id": str(i)})  # type: ignore[arg-type]
    assert q.close(timeout=10.0) == 0
    assert [r["id"] for r in sink.rows] == [str(i) for i in range(len(kinds))]
    assert all(
        len(batch) <= 7 and {kinds[int(r["id"])] for r in batch} == {kind} for kind, batch in sink.batches
    )
    assert q.stats().written == len(kinds)


def test_requests_keep_being_accepted_while_the_database_is_down() -> None:
    sink = FlakySink(failures=10**9)
    metrics = ServeMetrics()
    q = _queue(sink, metrics=metrics)
    for i in range(200):
        assert q.submit("race", {"id": str(i)})
    time.sleep(0.1)
    assert sink.rows == []
    assert q.stats().pending == 200
    assert q.stats().failures > 0
    assert q.last_error is not None
    assert "down" in q.last_error
    sink.failures = 0  # the database is back
    assert q.flush(timeout=10.0)
    assert len(sink.rows) == 200
    assert q.last_error is None
    text = metrics.render().decode()
    assert 'stagewise_ledger_rows_written_total{kind="race"} 200.0' in text
    assert "stagewise_ledger_write_failures_total" in text
    q.close(timeout=5.0)


def test_a_full_queue_sheds_with_a_metric_and_a_log_line(caplog: Any) -> None:
    sink = FlakySink()
    sink.gate.clear()  # the writer blocks inside its first write
    metrics = ServeMetrics()
    q = _queue(sink, queue_max=5, batch_size=1, metrics=metrics)
    accepted = [q.submit("race", {"id": str(i)}) for i in range(20)]
    # one row may be in the writer's hands, five wait in the queue, the rest are shed
    assert 5 <= sum(accepted) <= 6
    shed = 20 - sum(accepted)
    assert q.stats().shed == shed
    assert f"stagewise_predictions_shed_total {float(shed)}" in metrics.render().decode()
    assert any("shed" in r.getMessage() for r in caplog.records)
    sink.gate.set()
    assert q.close(timeout=5.0) == 0
    assert len(sink.rows) == sum(accepted)


def test_an_invalid_row_is_refused_alone_and_the_rest_written(caplog: Any) -> None:
    sink = FlakySink(bad={"3"})
    metrics = ServeMetrics()
    q = _queue(sink, metrics=metrics)
    for i in range(10):
        q.submit("race", {"id": str(i)})
    q.close(timeout=5.0)
    assert [r["id"] for r in sink.rows] == [str(i) for i in range(10) if i != 3]
    assert q.stats().rejected == 1
    assert 'stagewise_ledger_rows_rejected_total{kind="race"} 1.0' in metrics.render().decode()
    assert any("refused" in r.getMessage() for r in caplog.records)


def test_close_gives_up_after_the_drain_timeout_and_reports_the_loss() -> None:
    sink = FlakySink(failures=10**9)
    q = _queue(sink)
    for i in range(3):
        q.submit("race", {"id": str(i)})
    assert q.close(timeout=0.2) == 3
    assert not q.submit("race", {"id": "late"})  # closed: refused and counted as shed


def test_a_full_batch_is_written_at_once_and_a_trickle_waits_for_the_flush_interval() -> None:
    sink = FlakySink()
    q = _queue(sink, batch_size=10, flush_interval_s=30.0)
    started = time.monotonic()
    for i in range(10):
        assert q.submit("race", {"id": str(i)})
    assert q.flush(timeout=5.0)  # a full batch does not wait the 30 s flush interval
    assert time.monotonic() - started < 5.0
    assert [len(batch) for _, batch in sink.batches] == [10]
    assert q.close(timeout=5.0) == 0

    sink = FlakySink()
    q = _queue(sink, batch_size=10, flush_interval_s=1.0)
    for i in range(3):  # rows arriving one by one, well within the interval: one write, not three
        assert q.submit("race", {"id": str(i)})
        time.sleep(0.02)
    assert q.flush(timeout=10.0)
    assert [[r["id"] for r in batch] for _, batch in sink.batches] == [["0", "1", "2"]]
    assert q.close(timeout=5.0) == 0
