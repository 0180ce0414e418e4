"""Daily statistics aggregated in SQL, and the ``daily_performance`` rollup they are cached in.

Every figure is ``COUNT``/``SUM`` over ``race_predictions`` (or ``market_signals``) grouped by day, so the
database does the work and Python only turns the sums into rates and intervals. A rollup row remembers
the ``ledger_days`` version it was computed from; a trend reads the rollup and recomputes, in one grouped
query, only the days whose ledger changed since.

Semantics: ``total_races`` counts *settled* predictions of the segment (a race predicted by two model
versions counts once per version unless a ``model_version`` is given); ``pending_races`` have no result
yet; ``void_races`` had no finisher in first place and count neither as hit nor miss. A race whose score
accuracy is undefined (fewer than two starters) counts in the hit rates and not in the average.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from stagewise._exceptions import ConfigError
from stagewise.monitor.ledger import fold_changes, upsert
from stagewise.monitor.schema import ALL, daily_performance, ledger_days, market_signals, race_predictions

__all__ = [
    "RACE_SEGMENTS",
    "aggregate_days",
    "market_stats_from_counts",
    "race_stats_from_counts",
    "rollup",
    "segment_key",
    "wilson_bounds",
]

RACE_SEGMENTS = ("venue_code", "integration_mode", "model_version", "variant")
MARKET_SEGMENTS = ("symbol", "model_version", "variant")
_COUNT_FIELDS = (
    "total_races",
    "hit_count_1st",
    "hit_count_top3",
    "hit_count_trio",
    "score_accuracy_n",
    "score_accuracy_sum",
    "score_accuracy_sq_sum",
    "pending",
    "void",
    "tp",
    "fp",
    "tn",
    "fn",
)


def segment_key(domain: str, segments: Mapping[str, Any]) -> dict[str, str]:
    """The rollup's segment columns for the given filters (``"*"`` where not filtered)."""
    allowed = RACE_SEGMENTS if domain == "races" else MARKET_SEGMENTS
    unknown = [k for k, v in segments.items() if k not in allowed and v is not None]
    if unknown:
        raise ConfigError(
            f"Unknown segment filter(s) {unknown} for domain {domain!r}; accepted: {list(allowed)}."
        )
    key = {"model_version": ALL, "variant": ALL, "integration_mode": ALL, "venue": ALL, "symbol": ALL}
    for name, value in segments.items():
        if value is None:
            continue
        if name == "venue_code":
            if isinstance(value, bool) or not str(value).strip().isdigit() or not 1 <= int(value) <= 24:
                raise ConfigError(f"The 'venue_code' segment must be an int in 1-24; got {value!r}.")
            key["venue"] = str(int(value))
        else:
            key[name] = str(value)
    return key


def _filters(domain: str, key: Mapping[str, str]) -> list[ColumnElement[bool]]:
    table = race_predictions if domain == "races" else market_signals
    out: list[ColumnElement[bool]] = []
    for name in ("model_version", "variant", "integration_mode", "symbol"):
        if key[name] != ALL and name in table.c:
            out.append(table.c[name] == key[name])
    if key["venue"] != ALL:
        out.append(race_predictions.c.venue_code == int(key["venue"]))
    return out


def aggregate_days(
    conn: Connection, domain: str, days: Sequence[date], key: Mapping[str, str]
) -> dict[date, dict[str, Any]]:
    """Per-day sums for the segment, computed by the database in one grouped query."""
    if not days:
        return {}
    zero = 0
    if domain == "races":
        rp = race_predictions.c
        settled = rp.status == "settled"
        day_col: Any = rp.race_date
        cols = [
            func.sum(case((settled, 1), else_=zero)).label("total_races"),
            func.sum(case((settled, rp.hit_1st), else_=zero)).label("hit_count_1st"),
            func.sum(case((settled, rp.hit_top3), else_=zero)).label("hit_count_top3"),
            func.sum(case((settled, rp.hit_trio), else_=zero)).label("hit_count_trio"),
            func.count(rp.score_accuracy).label("score_accuracy_n"),
            func.coalesce(func.sum(rp.score_accuracy), 0.0).label("score_accuracy_sum"),
            func.coalesce(func.sum(rp.score_accuracy * rp.score_accuracy), 0.0).label(
                "score_accuracy_sq_sum"
            ),
            func.sum(case((rp.status == "pending", 1), else_=zero)).label("pending"),
            func.sum(case((rp.status == "void", 1), else_=zero)).label("void"),
        ]
        table: Any = race_predictions
    else:
        ms = market_signals.c
        day_col = ms.signal_date
        done = ms.status == "settled"
        cols = [
            func.sum(case((done, 1), else_=zero)).label("total_races"),
            func.sum(case((ms.status == "pending", 1), else_=zero)).label("pending"),
            func.sum(case((and_(done, ms.signal == 1, ms.outcome == 1), 1), else_=zero)).label("tp"),
            func.sum(case((and_(done, ms.signal == 1, ms.outcome == 0), 1), else_=zero)).label("fp"),
            func.sum(case((and_(done, ms.signal == 0, ms.outcome == 0), 1), else_=zero)).label("tn"),
            func.sum(case((and_(done, ms.signal == 0, ms.outcome == 1), 1), else_=zero)).label("fn"),
        ]
        table = market_signals
    where = [day_col.in_(list(days)), *_filters(domain, key)]
    query = select(day_col.label("day"), *cols).select_from(table).where(*where).group_by(day_col)
    out: dict[date, dict[str, Any]] = {}
    for row in conn.execute(query).mappings():
        sums = {f: 0 for f in _COUNT_FIELDS}
        sums.update({k: (v or 0) for k, v in row.items() if k != "day"})
        out[_as_date(row["day"])] = sums
    return out


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value)
    return value  # type: ignore[no-any-return]


def rollup(
    conn: Connection, domain: str, days: Sequence[date], key: Mapping[str, str], now: datetime
) -> dict[date, dict[str, Any]]:
    """Sums per day from ``daily_performance``, refreshing the rows whose ledger day changed."""
    if not days:
        return {}
    fold_changes(conn, domain)
    dp = daily_performance.c
    seg = [
        dp.domain == domain,
        *(dp[c] == key[c] for c in ("model_version", "variant", "integration_mode", "venue", "symbol")),
    ]
    cached = {
        _as_date(r["date"]): dict(r)
        for r in conn.execute(
            select(daily_performance).where(*seg, dp.date.between(min(days), max(days)))
        ).mappings()
    }
    versions = {
        _as_date(d): v
        for d, v in conn.execute(
            select(ledger_days.c.date, ledger_days.c.version).where(
                ledger_days.c.domain == domain, ledger_days.c.date.between(min(days), max(days))
            )
        )
    }
    wanted = set(days)
    stale = sorted(
        d for d in wanted if d in versions and (d not in cached or cached[d]["source_version"] != versions[d])
    )
    if stale:
        fresh = aggregate_days(conn, domain, stale, key)
        rows = []
        for d in stale:
            sums = fresh.get(d, {f: 0 for f in _COUNT_FIELDS})
            row = {
                "date": d,
                "domain": domain,
                **key,
                **sums,
                "source_version": versions[d],
                "computed_at": now,
            }
            rows.append(row)
            cached[d] = row
        update_cols = {
            c: (lambda ex, t, c=c: ex[c]) for c in (*_COUNT_FIELDS, "source_version", "computed_at")
        }
        upsert(
            conn,
            daily_performance,
            rows,
            ("date", "domain", "model_version", "variant", "integration_mode", "venue", "symbol"),
            update_cols,
        )
    return {d: cached[d] for d in sorted(wanted) if d in cached}


_Z95 = 1.959963984540054


def wilson_bounds(successes: int, trials: int) -> tuple[float, float]:
    """The 95 % Wilson interval in closed form.

    The same numbers as :func:`stagewise.metrics.wilson_interval` (a test pins that on a grid of counts),
    which goes through ``scipy.stats.binomtest`` at about 2 ms a call: too slow for a 365-day trend of
    three rates. ``(nan, nan)`` without trials.
    """
    if trials <= 0:
        return (math.nan, math.nan)
    p = successes / trials
    z2 = _Z95 * _Z95
    denom = 1.0 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = _Z95 * math.sqrt(p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _rate(hits: int, n: int, name: str, out: dict[str, Any]) -> None:
    if not n:  # no settled race: no data (None, the seed's shape), never NaN
        out[name] = out[f"{name}_ci_low"] = out[f"{name}_ci_high"] = None
        return
    out[name] = hits / n
    low, high = wilson_bounds(int(hits), int(n))
    out[f"{name}_ci_low"], out[f"{name}_ci_high"] = low, high


def race_stats_from_counts(
    day: date, sums: Mapping[str, Any], key: Mapping[str, str]
) -> dict[str, Any] | None:
    """The seed's stats dict (plus trio, intervals and counts), or None when the day has no race.

    A figure without data (every race still pending, or no race with a defined score accuracy)
    is None, as in the seed, never NaN.
    """
    n = int(sums["total_races"])
    if n + int(sums["pending"]) + int(sums["void"]) == 0:
        return None
    out: dict[str, Any] = {
        "date": day.isoformat(),
        "total_races": n,
        "hit_count_1st": int(sums["hit_count_1st"]),
        "hit_count_top3": int(sums["hit_count_top3"]),
        "hit_count_trio": int(sums["hit_count_trio"]),
    }
    _rate(out["hit_count_1st"], n, "hit_rate_1st", out)
    _rate(out["hit_count_top3"], n, "hit_rate_top3", out)
    _rate(out["hit_count_trio"], n, "hit_rate_trio", out)
    k = int(sums["score_accuracy_n"])
    mean = float(sums["score_accuracy_sum"]) / k if k else None
    out["avg_score_accuracy"] = mean
    if k >= 2 and mean is not None:
        var = max(float(sums["score_accuracy_sq_sum"]) - k * mean * mean, 0.0) / (k - 1)
        half = 1.959963984540054 * math.sqrt(var / k)
        out["avg_score_accuracy_ci_low"], out["avg_score_accuracy_ci_high"] = mean - half, mean + half
    else:
        out["avg_score_accuracy_ci_low"] = out["avg_score_accuracy_ci_high"] = None
    out["score_accuracy_races"] = k
    out["pending_races"] = int(sums["pending"])
    out["void_races"] = int(sums["void"])
    out["segment"] = {name: value for name, value in key.items() if value != ALL}
    return out


def market_stats_from_counts(
    day: date, sums: Mapping[str, Any], key: Mapping[str, str]
) -> dict[str, Any] | None:
    """Accuracy (with Wilson interval), F1 and MCC of the signal from the day's confusion counts."""
    tp, fp, tn, fn = (int(sums[k]) for k in ("tp", "fp", "tn", "fn"))
    n = tp + fp + tn + fn
    if n + int(sums["pending"]) == 0:
        return None
    out: dict[str, Any] = {
        "date": day.isoformat(),
        "total_signals": n,
        "pending_signals": int(sums["pending"]),
    }
    out.update({"tp": tp, "fp": fp, "tn": tn, "fn": fn})
    _rate(tp + tn, n, "accuracy", out)
    out["f1"] = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
    denom = math.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    out["mcc"] = (tp * tn - fp * fn) / denom if denom else 0.0
    out["segment"] = {name: value for name, value in key.items() if value != ALL}
    return out
