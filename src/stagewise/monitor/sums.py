"""Per-day sums of the ledger's per-race outcomes, computed by the database (one ``GROUP BY`` query).

:meth:`~stagewise.monitor.PerformanceMonitor.race_outcomes` returns one row per logged prediction;
a controller judging a million of them needs only, per day and group, how many there are and the
sums of each outcome column, its square and its product with a covariate. :func:`race_outcome_sums`
asks the database for exactly that, grouped by ``race_date, variant, model_version, status``, so
SQLite and PostgreSQL send back a few hundred rows instead of every prediction.

A column's sums skip the rows where it is NULL (``COUNT(column)`` says how many were summed); a
pair's sums ``(column, covariate)`` skip the rows where either is NULL. The ledger stores no NaN (an
undefined score accuracy or a refunded bet's profit is NULL), so NULL is the only "missing".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Float, and_, case, cast, func, select

from stagewise.monitor.frames import query_frame
from stagewise.monitor.reads import feature_filter
from stagewise.monitor.schema import race_predictions

__all__ = ["PAIR_SUMS", "SUMMABLE_RACE_COLUMNS", "VALUE_SUMS", "race_outcome_sums"]

SUMMABLE_RACE_COLUMNS: tuple[str, ...] = tuple(
    name
    for name in ("venue_code", "hit_1st", "hit_top3", "hit_trio", "score_accuracy", "bet_stake", "bet_odds",
                 "bet_profit", "covariate")
    if name in race_predictions.c
)  # fmt: skip
"""The numeric columns of ``race_outcomes`` that can be summed (``covariate`` once the ledger logs it)."""

VALUE_SUMS = ("n", "sum", "sum_sq")
"""Per value column ``c``: the frame's columns ``c:n``, ``c:sum`` and ``c:sum_sq``."""
PAIR_SUMS = ("n", "sum_y", "sum_yy", "sum_x", "sum_xx", "sum_xy")
"""Per pair ``(c, x)``: the frame's columns ``c|x:n``, ``c|x:sum_y``, ... over rows where both are set."""


def race_outcome_sums(
    conn: Connection,
    start: date,
    end: date,
    values: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    rollout_feature: str | None = None,
) -> pd.DataFrame:
    """Per ``(race_date, variant, model_version, status)``: ``units`` and the requested sums.

    ``values`` and ``pairs`` name columns of :data:`SUMMABLE_RACE_COLUMNS`; any other name is left
    out of the frame (the column is not logged), never an error. ``rollout_feature`` filters as
    ``PerformanceMonitor.race_outcomes`` does (:func:`~stagewise.monitor.reads.feature_filter`).
    """
    rp = race_predictions.c
    keys = [rp.race_date, rp.variant, rp.model_version, rp.status]
    names = ["race_date", "variant", "model_version", "status", "units"]
    selected: list[Any] = [*keys, func.count()]
    for name in dict.fromkeys(values):
        if name not in SUMMABLE_RACE_COLUMNS:
            continue
        value = cast(rp[name], Float)
        selected += [func.count(rp[name]), func.sum(value), func.sum(value * value)]
        names += [f"{name}:{s}" for s in VALUE_SUMS]
    for y_name, x_name in dict.fromkeys(pairs):
        if y_name not in SUMMABLE_RACE_COLUMNS or x_name not in SUMMABLE_RACE_COLUMNS:
            continue
        both = and_(rp[y_name].is_not(None), rp[x_name].is_not(None))
        y, x = case((both, cast(rp[y_name], Float))), case((both, cast(rp[x_name], Float)))
        selected += [func.count(y), func.sum(y), func.sum(y * y)]
        selected += [func.sum(x), func.sum(x * x), func.sum(x * y)]
        names += [f"{y_name}|{x_name}:{s}" for s in PAIR_SUMS]
    query = select(*selected).where(rp.race_date.between(start, end))
    if rollout_feature is not None:
        query = query.where(feature_filter(rp.rollout_feature, rollout_feature))
    query = query.group_by(*keys).order_by(*keys)
    frame = query_frame(conn, query, names)
    frame["race_date"] = pd.to_datetime(frame["race_date"]).astype("datetime64[ns]")
    frame["units"] = frame["units"].astype("int64")
    for column in names[5:]:
        frame[column] = pd.to_numeric(frame[column]).astype("float64").fillna(0.0)
    return frame
