"""Prometheus metrics of one server process, in a registry of its own.

Every label is bounded: routes are route *templates* (``/v1/races/predict``, or ``unmatched``),
models are registry versions (a handful live at once), variants and roles are fixed words.
Race ids, symbols and tokens never become labels.

Several workers: when ``PROMETHEUS_MULTIPROC_DIR`` is set (``stagewise serve --workers N`` sets
it to a fresh directory), prometheus-client keeps every value in a memory-mapped file per
process and ``GET /metrics`` on any worker answers with the sum over all workers
(:class:`~prometheus_client.multiprocess.MultiProcessCollector`). Without it, each process
reports only its own values (one worker, or tests with several apps in one process).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "MODEL_ROLES", "MULTIPROC_ENV", "ServeMetrics"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

MODEL_ROLES = ("champion", "challenger", "market")
_ABSENT = "NotFoundError:"  # ModelWatcher's prefix for an alias or version that does not exist

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServeMetrics:
    """The server's counters, histograms and gauges.

    Examples
    --------
    >>> m = ServeMetrics()
    >>> m.shed.inc()
    >>> b"stagewise_predictions_shed_total 1.0" in m.render()
    True
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "stagewise_http_requests",
            "HTTP requests answered, per route template, status, and the model version and variant "
            "that answered (none for other routes).",
            ["route", "method", "status", "model_version", "variant"],
            registry=r,
        )
        self.latency = Histogram(
            "stagewise_http_request_duration_seconds",
            "Time from request to response, per route, model version and variant.",
            ["route", "method", "model_version", "variant"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "stagewise_predictions",
            "Predictions made, per domain, model version, variant and mode (answered or shadow).",
            ["domain", "model_version", "variant", "mode"],
            registry=r,
        )
        self.model_latency = Histogram(
            "stagewise_prediction_duration_seconds",
            "Feature computation plus model scoring, per domain, model version and variant.",
            ["domain", "model_version", "variant"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.shed = Counter(
            "stagewise_predictions_shed",
            "Predictions answered but not logged: the queue was full.",
            registry=r,
        )
        self.ledger_written = Counter(
            "stagewise_ledger_rows_written",
            "Rows the logging queue wrote to the ledger.",
            ["kind"],
            registry=r,
        )
        self.ledger_rejected = Counter(
            "stagewise_ledger_rows_rejected",
            "Rows the ledger refused as invalid (e.g. a race id reused with another date).",
            ["kind"],
            registry=r,
        )
        self.ledger_failures = Counter(
            "stagewise_ledger_write_failures",
            "Failed ledger writes (the batch is kept and retried).",
            ["kind"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "stagewise_log_queue_depth",
            "Predictions waiting to be logged (all live workers).",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.model_loaded = Gauge(
            "stagewise_model_loaded",
            "1 for each model version being served.",
            ["role", "version"],
            registry=r,
        )
        self.model_path = Gauge(
            "stagewise_model_fast_path",
            "1 when the version is served by the compiled fast path, 0 when by the library.",
            ["role", "version", "flavour"],
            registry=r,
        )
        self.reloads = Counter("stagewise_model_reloads", "Model reload attempts.", ["outcome"], registry=r)
        self.load_failures = Counter(
            "stagewise_model_load_failures",
            "Load attempts of a role whose version exists but was refused (changed file, wrong features, "
            "unreadable artifact); an alias that does not exist is not counted.",
            ["role"],
            registry=r,
        )
        for kind in ("race", "signal"):  # likewise for the ledger counters the alerting rules read
            for counter in (self.ledger_written, self.ledger_rejected, self.ledger_failures):
                counter.labels(kind=kind)
        for role in MODEL_ROLES:  # present at 0 from the first scrape, so the first failure is an increase
            self.load_failures.labels(role=role)
        self.queue_capacity = Gauge(
            "stagewise_log_queue_capacity",
            "Predictions the ledger queue holds before shedding (all live workers).",
            registry=r,
            multiprocess_mode="livesum",
        )
        # shared state read at scrape time (rollout, monitor): one registry, never summed over workers
        self.live = CollectorRegistry(auto_describe=False)

    def record_load_errors(self, errors: Mapping[str, str]) -> None:
        """Count each role whose load was refused (``ModelSet.errors``; a missing alias is not a failure)."""
        for role, error in errors.items():
            if not error.startswith(_ABSENT):
                self.load_failures.labels(role=role).inc()

    @property
    def multiprocess_dir(self) -> str | None:
        """The shared directory of multi-process mode, or None."""
        return os.environ.get(MULTIPROC_ENV) or None

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (summed over workers in multi-process mode)."""
        live = generate_latest(self.live)
        if self.multiprocess_dir is None:
            return generate_latest(self.registry) + live
        from prometheus_client.multiprocess import MultiProcessCollector

        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged) + live

    def process_exit(self) -> None:
        """In multi-process mode, drop this process's live gauges (call at shutdown)."""
        if self.multiprocess_dir is not None:
            from prometheus_client.multiprocess import mark_process_dead

            mark_process_dead(os.getpid(), self.multiprocess_dir)  # type: ignore[no-untyped-call]
