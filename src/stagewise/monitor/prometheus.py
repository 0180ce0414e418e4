"""Prometheus text exposition of the latest daily metrics.

Labels are bounded on purpose: ``domain`` (races / market), ``model`` and ``variant``; never a race id,
venue or date (one series per model and variant, whatever the traffic). The value is the metric of the
latest day with settled data on or before the end date; ``stagewise_monitor_day_timestamp_seconds``
says which day that was.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select

from stagewise.monitor.schema import alert_state, boat_predictions, market_signals, race_predictions

if TYPE_CHECKING:
    from stagewise.monitor.monitor import PerformanceMonitor

__all__ = ["exposition"]

_RACE_METRICS = {
    "hit_rate_1st": "Share of settled races whose predicted winner won",
    "hit_rate_top3": "Share of settled races whose predicted 1-2-3 was the ordered trifecta",
    "hit_rate_trio": "Share of settled races whose predicted top three were the top three in any order",
    "avg_score_accuracy": "Mean (Spearman rho + 1) / 2 of predicted against actual order",
    "total_races": "Settled races of the day",
    "pending_races": "Races of the day still waiting for a result",
    "expected_hit_rate_1st": "Mean win probability the model gave its predicted winner, over the settled "
    "races of the day: the win hit rate it expects (calibration: compare with hit_rate_1st)",
}
_MARKET_METRICS = {
    "accuracy": "Share of settled signals whose direction was right",
    "f1": "F1 of the up signal",
    "mcc": "Matthews correlation of signal and outcome",
    "total_signals": "Settled signals of the day",
}


def _latest(conn: Any, table: Any, day_col: Any, end: date) -> list[tuple[str, str, date]]:
    query = (
        select(table.c.model_version, table.c.variant, func.max(day_col))
        .where(day_col <= end)
        .group_by(table.c.model_version, table.c.variant)
    )
    return [
        (mv, var, d if isinstance(d, date) else date.fromisoformat(str(d)))
        for mv, var, d in conn.execute(query)
    ]


def _expected_hit_rate(conn: Any, model: str, variant: str, day: date) -> float | None:
    """Mean ``win_prob`` of the predicted winners of the day's settled races (None without probabilities)."""
    query = (
        select(func.avg(boat_predictions.c.win_prob))
        .select_from(
            boat_predictions.join(
                race_predictions,
                (boat_predictions.c.model_version == race_predictions.c.model_version)
                & (boat_predictions.c.race_id == race_predictions.c.race_id),
            )
        )
        .where(
            boat_predictions.c.predicted_rank == 1,
            race_predictions.c.status == "settled",
            race_predictions.c.model_version == model,
            race_predictions.c.variant == variant,
            race_predictions.c.race_date == day,
        )
    )
    value = conn.execute(query).scalar()
    return None if value is None else float(value)


def exposition(monitor: PerformanceMonitor, end: date) -> str:
    """Render the registry for the latest day per (domain, model, variant) on or before ``end``."""
    registry = CollectorRegistry()
    labels = ("domain", "model", "variant")
    gauges = {
        name: Gauge(f"stagewise_monitor_{name}", doc, labels, registry=registry)
        for name, doc in {**_RACE_METRICS, **_MARKET_METRICS}.items()
    }
    day_gauge = Gauge(
        "stagewise_monitor_day_timestamp_seconds",
        "Start (UTC) of the day the values describe",
        labels,
        registry=registry,
    )
    firing = Gauge(
        "stagewise_monitor_alerts_firing", "Alerts currently firing", ("domain",), registry=registry
    )

    def _read(conn: Any) -> tuple[list[tuple[str, str, date]], list[tuple[str, str, date]], list[Any]]:
        races = _latest(conn, race_predictions, race_predictions.c.race_date, end)
        market = _latest(conn, market_signals, market_signals.c.signal_date, end)
        counts = conn.execute(
            select(alert_state.c.domain, func.count())
            .where(alert_state.c.state == "firing")
            .group_by(alert_state.c.domain)
        ).all()
        return races, market, counts

    races, market, counts = monitor.store.read(_read)
    for domain, items, metrics in (("races", races, _RACE_METRICS), ("market", market, _MARKET_METRICS)):
        for model, variant, day in items:
            if domain == "races":
                stats = monitor.calculate_daily_stats(day, model_version=model, variant=variant)
                if stats is not None:
                    stats["expected_hit_rate_1st"] = monitor.store.read(
                        partial(_expected_hit_rate, model=model, variant=variant, day=day)
                    )
            else:
                stats = monitor.calculate_market_stats(day, model_version=model, variant=variant)
            if stats is None:
                continue
            for name in metrics:
                value = stats.get(name)
                if value is not None and not (isinstance(value, float) and math.isnan(value)):
                    gauges[name].labels(domain, model, variant).set(float(value))
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
            day_gauge.labels(domain, model, variant).set(midnight.timestamp())
    for domain in ("races", "market"):
        firing.labels(domain).set(0)
    for domain, count in counts:
        firing.labels(domain).set(count)
    return generate_latest(registry).decode("utf-8")
