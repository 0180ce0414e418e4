"""Bounded feature snapshots for drift: at most ``max_rows_per_day`` values per feature and day.

Storing every feature of every boat would grow the ledger by an order of magnitude; drift tests need a
sample, not the population. Each call keeps a uniform random sample (seeded, so reruns store the same
rows) of the numeric values it is given, up to what is left of the day's budget for that feature.
Non-finite values are missing data and are not stored.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, insert, select

from stagewise._exceptions import DataValidationError
from stagewise.monitor.schema import feature_values

__all__ = ["read_features", "write_features"]


def write_features(
    conn: Connection, domain: str, day: date, frame: pd.DataFrame, max_rows_per_day: int, seed: int = 0
) -> int:
    """Store a bounded sample of ``frame``'s numeric columns for ``day``; return the rows stored."""
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(f"features must be a pandas DataFrame; got {type(frame).__name__}.")
    numeric = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    others = [c for c in frame.columns if c not in numeric]
    if others:
        raise DataValidationError(f"features must be numeric columns; got non-numeric column(s) {others}.")
    too_long = [c for c in numeric if len(str(c)) > 64]
    if too_long:
        raise DataValidationError(f"feature names must have at most 64 characters; got {too_long}.")
    fv = feature_values.c
    used: dict[str, int] = dict(
        conn.execute(
            select(fv.feature, func.count()).where(fv.domain == domain, fv.date == day).group_by(fv.feature)
        ).all()
    )
    rng = np.random.default_rng([seed, day.toordinal()])
    rows: list[dict[str, Any]] = []
    for column in numeric:
        values = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        values = values[np.isfinite(values)]
        room = max(max_rows_per_day - int(used.get(str(column), 0)), 0)
        if len(values) > room:
            values = rng.choice(values, size=room, replace=False)
        rows.extend(
            {"domain": domain, "date": day, "feature": str(column), "value": float(v)} for v in values
        )
    if rows:
        conn.execute(insert(feature_values), rows)
    return len(rows)


def read_features(
    conn: Connection, domain: str, start: date, end: date, features: list[str] | None = None
) -> pd.DataFrame:
    """The stored values of ``[start, end]`` as one column per feature (padded with NaN)."""
    fv = feature_values.c
    query = select(fv.feature, fv.value).where(fv.domain == domain, fv.date.between(start, end))
    if features is not None:
        query = query.where(fv.feature.in_(features))
    by_feature: dict[str, list[float]] = {}
    for name, value in conn.execute(query.order_by(fv.feature, fv.id)):
        by_feature.setdefault(name, []).append(value)
    return pd.DataFrame({name: pd.Series(values, dtype="float64") for name, values in by_feature.items()})
