"""Prometheus metrics of one server process, in a registry of its own.

Every label is bounded: routes are route *templates* (``/v1/races/predict``, or ``unmatched``),
models are registry versions (a handful live at once), variants and roles are fixed words.
Race ids, symbols and tokens never become labels.

With ``--workers N`` each worker process keeps its own counters and ``GET /metrics`` answers
with the counters of the worker that took the scrape; see ``docs/serving.md`` for how to
scrape a multi-worker deployment.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "ServeMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

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
        self.queue_depth = Gauge("stagewise_log_queue_depth", "Predictions waiting to be logged.", registry=r)
        self.model_loaded = Gauge(
            "stagewise_model_loaded",
            "1 for each model version being served.",
            ["role", "version"],
            registry=r,
        )
        self.reloads = Counter("stagewise_model_reloads", "Model reload attempts.", ["outcome"], registry=r)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
