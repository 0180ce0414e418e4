"""The market domain in the same ledger: direction signals and their outcomes.

A signal is identified by ``(model_version, symbol, timestamp)``; logging it again is a no-op, and a
different signal or probability for the same key replaces it. An outcome (1 = the price went up over
the horizon, 0 = it did not, as :func:`stagewise.features.labels.next_bar_direction`) settles every
signal of that symbol and bar; a changed outcome is a ``market_outcome`` correction.
Timestamps are stored in UTC without zone; a naive timestamp is taken as UTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, bindparam, case, insert, select, update

from stagewise._domain import Domain
from stagewise._exceptions import DataValidationError, NotFoundError
from stagewise.monitor.inputs import DEFAULT_MODEL_VERSION, DEFAULT_VARIANT, parse_routing
from stagewise.monitor.ledger import bump_days, chunks, insert_new
from stagewise.monitor.money import check_cost, check_net_return
from stagewise.monitor.reads import feature_filter
from stagewise.monitor.schema import corrections, market_signals

__all__ = [
    "OUTCOME_COLUMNS",
    "Signal",
    "normalise_signal",
    "normalise_signals",
    "parse_outcome",
    "parse_timestamp",
    "read_outcomes",
    "signal_row",
    "write_outcomes",
    "write_signals",
]

MARKETS_KEY = Domain.MARKETS.ledger_key
"""``"market"``: the markets domain as the ledger's rows and the alert-rule files name it."""

#: Columns of :func:`read_outcomes` (``PerformanceMonitor.market_outcomes``), in order.
OUTCOME_COLUMNS = (
    "symbol",
    "ts",
    "signal_date",
    "variant",
    "model_version",
    "signal",
    "probability",
    "outcome",
    "status",
    "net_return",
    "rollout_feature",
    "covariate",
)


@dataclass(frozen=True, slots=True)
class Signal:
    """One validated market signal."""

    model_version: str
    variant: str
    symbol: str
    ts: datetime
    signal: int
    probability: float
    outcome: int | None
    rollout_feature: str | None = None
    covariate: float | None = None


def parse_timestamp(value: Any, field: str = "timestamp") -> datetime:
    """A naive UTC datetime from a datetime, pandas Timestamp or ISO string."""
    ts: Any = value
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.strip())
        except ValueError:
            ts = None
    elif type(value).__name__ == "Timestamp" and value == value:
        ts = value.to_pydatetime()
    elif isinstance(value, date) and not isinstance(value, datetime):
        ts = datetime(value.year, value.month, value.day)
    if not isinstance(ts, datetime):
        raise DataValidationError(
            f"{field} must be a datetime, a pandas Timestamp or an ISO 8601 string; got {value!r}."
        )
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    result: datetime = ts
    return result


def _binary(value: Any, field: str) -> int:
    if isinstance(value, bool) or (hasattr(value, "__index__") and int(value) in (0, 1)):
        return int(value)
    if isinstance(value, float) and value in (0.0, 1.0):
        return int(value)
    raise DataValidationError(f"{field} must be 0 or 1 (1 = up over the horizon); got {value!r}.")


def normalise_signal(
    symbol: Any,
    timestamp: Any,
    signal: Any,
    probability: Any,
    *,
    model_version: Any,
    variant: Any,
    outcome: Any = None,
    rollout_feature: Any = None,
    covariate: Any = None,
) -> Signal:
    """Validate one ``log_signal`` call."""
    if not isinstance(symbol, str) or not symbol.strip() or len(symbol) > 32:
        raise DataValidationError(f"symbol must be a non-empty str of at most 32 characters; got {symbol!r}.")
    for name, text in (("model_version", model_version), ("variant", variant)):
        if not isinstance(text, str) or not text.strip() or len(text) > 64:
            raise DataValidationError(
                f"{name} must be a non-empty str of at most 64 characters; got {text!r}."
            )
    if isinstance(probability, bool) or not isinstance(probability, int | float):
        raise DataValidationError(f"probability must be a number in [0, 1]; got {probability!r}.")
    prob = float(probability)
    if not math.isfinite(prob) or not 0.0 <= prob <= 1.0:
        raise DataValidationError(f"probability must be a number in [0, 1]; got {probability!r}.")
    routing = parse_routing(rollout_feature, covariate)
    return Signal(
        model_version=model_version.strip(),
        variant=variant.strip(),
        symbol=symbol.strip(),
        ts=parse_timestamp(timestamp),
        signal=_binary(signal, "signal"),
        probability=prob,
        outcome=None if outcome is None else _binary(outcome, "outcome"),
        rollout_feature=None if routing is None else routing.rollout_feature,
        covariate=None if routing is None else routing.covariate,
    )


def signal_row(s: Signal, outcome: int | None, now: datetime) -> dict[str, Any]:
    """The ``market_signals`` row of a signal with its (maybe stored) outcome."""
    return {
        "model_version": s.model_version,
        "variant": s.variant,
        "symbol": s.symbol,
        "ts": s.ts,
        "signal_date": s.ts.date(),
        "signal": s.signal,
        "probability": s.probability,
        "outcome": outcome,
        "status": "pending" if outcome is None else "settled",
        "logged_at": now,
        "settled_at": None if outcome is None else now,
        "rollout_feature": s.rollout_feature,
        "covariate": s.covariate,
    }


def normalise_signals(rows: Iterable[Mapping[str, Any]]) -> list[Signal]:
    """Validate many ``log_signal`` calls given as dicts (model version and variant default)."""
    signals = []
    for row in rows:
        data = dict(row)
        data.setdefault("model_version", DEFAULT_MODEL_VERSION)
        data.setdefault("variant", DEFAULT_VARIANT)
        signals.append(normalise_signal(**data))
    return signals


def parse_outcome(
    outcome: object, bar_return: object, cost: object
) -> tuple[int, tuple[float, float] | None]:
    """The realised direction (0 or 1) and, when ``bar_return`` is given, ``(bar_return, cost)``."""
    value = _binary(outcome, "outcome")
    returned = check_net_return(bar_return, "bar_return")
    return value, None if returned is None else (returned, check_cost(cost))


def write_signals(conn: Connection, signals: Sequence[Signal], now: datetime) -> int:
    """Insert or replace signals; return how many rows changed."""
    ms = market_signals.c
    stored: dict[tuple[str, str, datetime], tuple[int, float, int | None, str | None, float | None]] = {}
    symbols = sorted({s.symbol for s in signals})
    stamps = [s.ts for s in signals]
    for part in chunks(symbols):
        query = select(
            ms.model_version, ms.symbol, ms.ts, ms.signal, ms.probability, ms.outcome,
            ms.rollout_feature, ms.covariate,
        ).where(ms.symbol.in_(part), ms.ts.between(min(stamps), max(stamps)))  # fmt: skip
        if conn.dialect.name == "postgresql":  # writers of other bars do not wait (see ledger.py)
            query = query.order_by(ms.model_version, ms.symbol, ms.ts).with_for_update()
        for mv, sym, ts, sig, prob, out, feature, covariate in conn.execute(query):
            stored[(mv, sym, ts)] = (sig, prob, out, feature, covariate)
    inserts, updates = {}, {}
    for s in signals:
        key = (s.model_version, s.symbol, s.ts)
        outcome = s.outcome if s.outcome is not None else stored.get(key, (0, 0.0, None, None, None))[2]
        row = signal_row(s, outcome, now)
        if key not in stored:
            inserts[key] = row
        elif stored[key] != (s.signal, s.probability, outcome, s.rollout_feature, s.covariate):
            updates[key] = row
    insert_new(conn, market_signals, list(inserts.values()), ("model_version", "symbol", "ts"))
    if updates:
        conn.execute(
            update(market_signals).where(
                and_(
                    ms.model_version == bindparam("b_mv"),
                    ms.symbol == bindparam("b_sym"),
                    ms.ts == bindparam("b_ts"),
                )
            ),
            [
                {
                    **{k: v for k, v in r.items() if k not in ("model_version", "symbol", "ts")},
                    "b_mv": r["model_version"],
                    "b_sym": r["symbol"],
                    "b_ts": r["ts"],
                }
                for r in updates.values()
            ],
        )
    bump_days(conn, MARKETS_KEY, {s.ts.date() for s in signals})
    return len(inserts) + len(updates)


def write_outcomes(
    conn: Connection,
    symbol: str,
    ts: datetime,
    outcome: int,
    model_version: str | None,
    now: datetime,
    reason: str | None = None,
    money: tuple[float, float] | None = None,
) -> int:
    """Settle the signals of one bar; a changed outcome is recorded as a correction.

    ``money=(bar_return, cost)`` also records each signal's realised net return: ``bar_return − cost``
    for an up signal (long), ``−bar_return − cost`` for a down one (short).
    """
    ms = market_signals.c
    where = [ms.symbol == symbol, ms.ts == ts]
    if model_version is not None:
        where.append(ms.model_version == model_version)
    query = select(ms.model_version, ms.outcome).where(*where).order_by(ms.model_version)
    rows = conn.execute(query.with_for_update() if conn.dialect.name == "postgresql" else query).all()
    if not rows:
        raise NotFoundError(
            f"No signal is logged for symbol={symbol!r}, timestamp={ts.isoformat()}"
            + (f", model_version={model_version!r}" if model_version else "")
            + "; log the signal first."
        )
    fixes = [
        {
            "kind": "market_outcome",
            "race_id": None,
            "model_version": mv,
            "symbol": symbol,
            "old_value": f"{ts.isoformat()}={old}",
            "new_value": f"{ts.isoformat()}={outcome}",
            "reason": reason,
            "corrected_at": now,
        }
        for mv, old in rows
        if old is not None and old != outcome
    ]
    changed = [mv for mv, old in rows if old != outcome]
    if changed:
        conn.execute(
            update(market_signals)
            .where(*where, ms.model_version.in_(changed))
            .values(outcome=outcome, status="settled", settled_at=now)
        )
        bump_days(conn, MARKETS_KEY, [ts.date()])
    if money is not None:
        bar_return, cost = money
        net = case((ms.signal == 1, bar_return - cost), else_=-bar_return - cost)
        conn.execute(update(market_signals).where(*where).values(net_return=net))
        if not changed:
            bump_days(conn, MARKETS_KEY, [ts.date()])
    if fixes:
        conn.execute(insert(corrections), fixes)
    return len(changed)


def read_outcomes(
    conn: Connection,
    start: date,
    end: date,
    *,
    model_version: str | None = None,
    variant: str | None = None,
    symbol: str | None = None,
    rollout_feature: str | None = None,
) -> pd.DataFrame:
    """One row per logged signal dated ``start`` to ``end`` (inclusive), oldest first.

    Columns :data:`OUTCOME_COLUMNS` plus ``hit`` (signal == outcome; ``<NA>`` until settled):
    ``ts`` and ``signal_date`` as datetime64, ``outcome`` as nullable Int64. ``rollout_feature``
    keeps the rows routed by that feature and those naming none
    (:func:`~stagewise.monitor.reads.feature_filter`).
    """
    ms = market_signals.c
    cols = [ms[name] for name in OUTCOME_COLUMNS]
    query = select(*cols).where(ms.signal_date.between(start, end))
    for column, value in (("model_version", model_version), ("variant", variant), ("symbol", symbol)):
        if value is not None:
            query = query.where(ms[column] == value)
    if rollout_feature is not None:
        query = query.where(feature_filter(ms.rollout_feature, rollout_feature))
    query = query.order_by(ms.ts, ms.symbol, ms.model_version)
    frame = pd.DataFrame(conn.execute(query).all(), columns=list(OUTCOME_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"]).astype("datetime64[ns]")
    frame["signal_date"] = pd.to_datetime(frame["signal_date"]).astype("datetime64[ns]")
    frame["signal"] = frame["signal"].astype("int64")
    frame["probability"] = frame["probability"].astype("float64")
    frame["outcome"] = frame["outcome"].astype("Int64")
    frame["net_return"] = frame["net_return"].astype("float64")
    frame["covariate"] = frame["covariate"].astype("float64")
    feature = frame["rollout_feature"].astype("object")
    frame["rollout_feature"] = feature.where(feature.notna(), None)  # None, not NaN: no feature
    settled = frame["status"] == "settled"
    frame["hit"] = (frame["signal"] == frame["outcome"]).astype("boolean").mask(~settled)
    return frame
