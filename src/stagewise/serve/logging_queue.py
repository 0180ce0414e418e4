"""Logging predictions off the request path: a bounded queue, batch inserts, retries, drain.

Guarantees (tested in ``tests/serve/test_logging_queue.py``):

* :meth:`LedgerQueue.submit` never blocks and never touches the database. A full queue
  *sheds*: the row is dropped, ``stagewise_predictions_shed_total`` goes up and a log line says
  how many were shed so far. Nothing else is ever dropped silently.
* One background thread writes rows in order, in batches of up to ``batch_size``, through the
  sink (the monitor's batch API). A failing write keeps the batch and retries it with
  exponential backoff, while requests keep being answered and queued: a database outage
  shorter than ``queue_max`` predictions loses nothing.
* A batch the ledger refuses as invalid (:class:`~stagewise.DataValidationError`) is written
  row by row, so one bad row (say a race id reused with another date) cannot block the rest;
  each refused row is counted and logged with the reason.
* :meth:`LedgerQueue.close` drains the queue (retrying while the database is away, up to
  ``drain_timeout_s``) before it returns; the server calls it on lifespan shutdown (SIGTERM).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

from stagewise._exceptions import DataValidationError
from stagewise.monitor.records import LedgerRecord, RacePrediction, SignalPrediction

if TYPE_CHECKING:
    from stagewise.monitor import PerformanceMonitor
    from stagewise.serve.metrics import ServeMetrics

__all__ = ["LedgerQueue", "LedgerSink", "MonitorSink", "QueueStats"]

Kind = Literal["race", "signal"]
Row = TypeVar("Row")
Row_contra = TypeVar("Row_contra", contravariant=True)
_LOG = logging.getLogger("stagewise.serve")


class LedgerSink(Protocol[Row_contra]):
    """Where batches go. Raise to signal failure; DataValidationError means "this input is bad"."""

    def write(self, kind: Kind, rows: Sequence[Row_contra]) -> None: ...


class MonitorSink:
    """Writes typed records through :class:`~stagewise.monitor.PerformanceMonitor` (created lazily).

    The monitor is opened on the first write, and opened again after a failure, so a server
    started while its database is down begins logging as soon as the database is back.
    """

    def __init__(self, db_url: str | None) -> None:
        self.db_url = db_url
        self._monitor: PerformanceMonitor | None = None

    def _get(self) -> PerformanceMonitor:
        if self._monitor is None:
            from stagewise.monitor import PerformanceMonitor

            self._monitor = PerformanceMonitor(self.db_url)
        return self._monitor

    def write(self, kind: Kind, rows: Sequence[LedgerRecord]) -> None:
        monitor = self._get()
        if kind == "race":
            monitor.log_records([r for r in rows if isinstance(r, RacePrediction)])
        else:
            monitor.log_signal_records([r for r in rows if isinstance(r, SignalPrediction)])

    def close(self) -> None:
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts since start: accepted into the queue, written, refused as invalid, shed, waiting."""

    accepted: int
    written: int
    rejected: int
    shed: int
    pending: int
    failures: int


class LedgerQueue(Generic[Row]):
    """A bounded queue of ledger rows (typed records, for the server) with one writer thread.

    Parameters
    ----------
    sink : LedgerSink
        Receives ``write(kind, rows)`` calls from the writer thread only.
    queue_max : int
        Rows waiting in the queue at most (the batch being written is extra, at most
        ``batch_size``); beyond that new rows are shed.
    batch_size : int
        Rows per ``write`` call.
    flush_interval_s : float
        How long the writer waits for more rows before writing a partial batch.
    retry_max_backoff_s : float
        Longest pause between two attempts at a failing batch.
    metrics : ServeMetrics, optional
        Receives shed/written/rejected/failure counts and the queue depth.

    Examples
    --------
    >>> class Memory:
    ...     def __init__(self): self.rows = []
    ...     def write(self, kind, rows): self.rows.extend(rows)
    >>> sink = Memory()
    >>> q = LedgerQueue(sink, queue_max=10, batch_size=4)
    >>> q.start()
    >>> all(q.submit("race", {"race_id": str(i)}) for i in range(5))
    True
    >>> q.close(timeout=5.0)
    0
    >>> len(sink.rows), q.stats().written
    (5, 5)
    """

    def __init__(
        self,
        sink: LedgerSink[Row],
        *,
        queue_max: int = 100_000,
        batch_size: int = 500,
        flush_interval_s: float = 0.05,
        retry_max_backoff_s: float = 5.0,
        metrics: ServeMetrics | None = None,
    ) -> None:
        self.sink = sink
        self.queue_max = queue_max
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_max_backoff_s = retry_max_backoff_s
        self.metrics = metrics
        self._queue: deque[tuple[Kind, Row]] = deque()  # guarded by the lock below
        lock = threading.RLock()
        self._cond = threading.Condition(lock)  # rows done (flush waits on it)
        self._ready = threading.Condition(lock)  # rows to write (the writer waits on it)
        self._accepted = self._done = self._written = self._rejected = self._shed = self._failures = 0
        self._stop = threading.Event()
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None

    # -- producer side ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="stagewise-ledger-writer", daemon=True)
            self._thread.start()

    def submit(self, kind: Kind, row: Row) -> bool:
        """Queue one row; False (and a shed count) when the queue is full or closed."""
        with self._cond:
            if self._stop.is_set() or len(self._queue) >= self.queue_max:
                accepted = False
            else:
                self._queue.append((kind, row))
                self._accepted += 1
                accepted = True
                # wake the writer for a first row or a full batch only: one wake-up per batch, not per row
                if len(self._queue) == 1 or len(self._queue) == self.batch_size:
                    self._ready.notify()
            if not accepted:
                self._shed += 1
                shed = self._shed
        if not accepted:
            if self.metrics is not None:
                self.metrics.shed.inc()
            if shed == 1 or shed % 1000 == 0:
                _LOG.error(
                    "prediction log queue full (%d rows) or closed: shed %d prediction(s) so far "
                    "(stagewise_predictions_shed_total); the ledger is not keeping up or is down",
                    self.queue_max,
                    shed,
                )
            return False
        if self.metrics is not None:
            self.metrics.queue_depth.inc()
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row submitted before this call is written (or refused); False on timeout."""
        end = time.monotonic() + timeout
        with self._cond:
            target = self._accepted
            while self._done < target:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 30.0) -> int:
        """Stop accepting rows, write everything queued, stop the thread; return the rows not written."""
        self._deadline = time.monotonic() + timeout
        with self._cond:
            self._stop.set()
            self._ready.notify()
        if self._thread is not None:
            self._thread.join(timeout + 5.0)
        with self._cond:
            lost = self._accepted - self._done
        if lost:
            _LOG.error(
                "shutdown: %d prediction(s) could not be written to the ledger in %.0f s", lost, timeout
            )
        return lost

    def stats(self) -> QueueStats:
        """Current counts."""
        with self._cond:
            return QueueStats(
                accepted=self._accepted,
                written=self._written,
                rejected=self._rejected,
                shed=self._shed,
                pending=self._accepted - self._done,
                failures=self._failures,
            )

    @property
    def last_error(self) -> str | None:
        """The last write failure, cleared by the next successful write."""
        return self._last_error

    # -- writer thread ---------------------------------------------------------------------------
    def _next_batch(self) -> list[tuple[Kind, Row]]:
        """Up to ``batch_size`` rows: waits (blocked, not polling) for a first row, then up to
        ``flush_interval_s`` for a full batch; [] when nothing came within ``flush_interval_s``."""
        with self._ready:
            if not self._queue and not self._stop.is_set():
                self._ready.wait(self.flush_interval_s)
            if not self._queue:
                return []
            end = time.monotonic() + self.flush_interval_s
            while len(self._queue) < self.batch_size and not self._stop.is_set():
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._ready.wait(left)
            n = min(len(self._queue), self.batch_size)
            return [self._queue.popleft() for _ in range(n)]

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if not batch:
                if self._stop.is_set() and not self._queue:
                    return
                continue
            start = 0
            while start < len(batch):  # contiguous runs of one kind, in order
                kind = batch[start][0]
                end = start
                while end < len(batch) and batch[end][0] == kind:
                    end += 1
                if not self._write_run(kind, [row for _, row in batch[start:end]]):
                    return  # drain deadline passed while the database was away
                start = end

    def _write_run(self, kind: Kind, rows: list[Row]) -> bool:
        delay = min(0.05, self.retry_max_backoff_s)
        while True:
            try:
                self.sink.write(kind, rows)
            except DataValidationError:
                self._write_one_by_one(kind, rows)
                return True
            except Exception as exc:
                self._failed(kind, exc)
                if self._stop.is_set() and time.monotonic() >= self._deadline:
                    return False
                time.sleep(delay)
                delay = min(delay * 2, self.retry_max_backoff_s)
                continue
            self._finished(kind, written=len(rows), rejected=0)
            return True

    def _write_one_by_one(self, kind: Kind, rows: list[Row]) -> None:
        written = rejected = 0
        for row in rows:
            delay = min(0.05, self.retry_max_backoff_s)
            while True:
                try:
                    self.sink.write(kind, [row])
                    written += 1
                except DataValidationError as exc:
                    rejected += 1
                    _LOG.error("ledger refused a %s prediction (not logged): %s", kind, exc)
                except Exception as exc:
                    self._failed(kind, exc)
                    if self._stop.is_set() and time.monotonic() >= self._deadline:
                        break
                    time.sleep(delay)
                    delay = min(delay * 2, self.retry_max_backoff_s)
                    continue
                break
        self._finished(kind, written=written, rejected=rejected)

    def _failed(self, kind: Kind, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        with self._cond:
            self._failures += 1
            first = self._last_error is None
            self._last_error = message
        if self.metrics is not None:
            self.metrics.ledger_failures.labels(kind=kind).inc()
        if first:
            _LOG.error("ledger write failed, keeping the batch and retrying: %s", message)

    def _finished(self, kind: Kind, *, written: int, rejected: int) -> None:
        with self._cond:
            self._written += written
            self._rejected += rejected
            self._done += written + rejected
            recovered = self._last_error is not None
            self._last_error = None
            self._cond.notify_all()
        if recovered:
            _LOG.warning("ledger writes recovered; backlog is being written")
        if self.metrics is not None:
            self.metrics.queue_depth.dec(written + rejected)
            if written:
                self.metrics.ledger_written.labels(kind=kind).inc(written)
            if rejected:
                self.metrics.ledger_rejected.labels(kind=kind).inc(rejected)
