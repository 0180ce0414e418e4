"""Per-day counts of a cohort from the monitor's per-race outcomes (``PerformanceMonitor.race_outcomes``).

The controller's only reading of the ledger goes through the monitor's public
``race_outcomes`` frame (one row per logged prediction with its hit flags, score
accuracy and status); these functions sum it per day for one group
(:func:`daily_counts`) or pair two model versions on the races both scored
(:func:`paired_days`, shadow mode). The markets domain reads ``market_outcomes`` (one
row per signal) and sums it with :func:`market_daily_counts`; :func:`market_health_metrics`
pools such days into the markets health policy's metrics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from stagewise.rollout.harm import DayCounts, PairedDay

__all__ = [
    "DAY_COUNT_COLUMNS",
    "daily_counts",
    "market_daily_counts",
    "market_health_metrics",
    "paired_days",
    "summed_daily_counts",
]


def _days(column: pd.Series) -> pd.Series:
    """The day of each row as a datetime64 at midnight: grouped on, then only the group keys become dates."""
    return pd.to_datetime(column).dt.normalize()


def daily_counts(outcomes: pd.DataFrame) -> list[DayCounts]:
    """Sum settled per-race outcomes (``PerformanceMonitor.race_outcomes`` rows) per day.

    Pending and void races are not counted (a void race is neither hit nor miss);
    score accuracy counts only where it is defined. Days without settled races are left out.
    """
    settled = outcomes[outcomes["status"] == "settled"]
    if settled.empty:
        return []
    frame = pd.DataFrame(
        {
            "day": _days(settled["race_date"]),
            "hit_1st": settled["hit_1st"].astype("float64"),
            "hit_top3": settled["hit_top3"].astype("float64"),
            "score": settled["score_accuracy"].astype("float64"),
        }
    )
    frame["score_sq"] = frame["score"] ** 2
    grouped = frame.groupby("day", sort=True)
    sums = grouped.agg(
        races=("hit_1st", "size"),
        hits_1st=("hit_1st", "sum"),
        hits_top3=("hit_top3", "sum"),
        score_n=("score", "count"),
        score_sum=("score", "sum"),
        score_sq_sum=("score_sq", "sum"),
    )
    return [
        DayCounts(
            day=pd.Timestamp(day).date(),  # type: ignore[arg-type]  # a groupby key is Hashable to pandas-stubs
            races=int(row.races),
            hits_1st=int(row.hits_1st),
            hits_top3=int(row.hits_top3),
            score_n=int(row.score_n),
            score_sum=float(row.score_sum),
            score_sq_sum=float(row.score_sq_sum),
        )
        for day, row in sums.iterrows()
    ]


DAY_COUNT_COLUMNS = ("hit_1st", "hit_top3", "score_accuracy")
"""The columns :func:`summed_daily_counts` needs summed."""


def summed_daily_counts(sums: pd.DataFrame) -> list[DayCounts]:
    """:func:`daily_counts` from one group's per-day sums (an ``OutcomeSums`` frame) instead of its rows.

    Examples
    --------
    >>> frame = pd.DataFrame({"race_date": pd.to_datetime(["2026-11-01", "2026-11-01"]),
    ...     "status": ["settled", "void"], "units": [4, 1],
    ...     "hit_1st:sum": [1.0, 0.0], "hit_top3:sum": [0.0, 0.0], "score_accuracy:n": [4.0, 0.0],
    ...     "score_accuracy:sum": [2.6, 0.0], "score_accuracy:sum_sq": [1.8, 0.0]})
    >>> [(d.races, d.hits_1st, d.score_n) for d in summed_daily_counts(frame)]
    [(4, 1, 4)]
    """
    settled = sums[(sums["status"] == "settled") & (sums["units"] > 0)]
    if settled.empty:
        return []
    names = ["units", "hit_1st:sum", "hit_top3:sum", "score_accuracy:n", "score_accuracy:sum"]
    names.append("score_accuracy:sum_sq")
    per_day = settled.groupby(_days(settled["race_date"]), sort=True)[names].sum()
    return [
        DayCounts(
            day=pd.Timestamp(day).date(),
            races=int(row[0]),
            hits_1st=round(row[1]),
            hits_top3=round(row[2]),
            score_n=round(row[3]),
            score_sum=float(row[4]),
            score_sq_sum=float(row[5]),
        )
        for day, row in zip(per_day.index, per_day.to_numpy(dtype="float64"), strict=True)
    ]


def paired_days(champion: pd.DataFrame, challenger: pd.DataFrame) -> list[PairedDay]:
    """Pair two model versions' settled outcomes on the races both scored, summed per day.

    ``champion`` and ``challenger`` are ``PerformanceMonitor.race_outcomes`` frames of one
    model version each. A race that is settled for only one of them is not paired.
    """
    keep = ["race_id", "race_date", "hit_1st", "score_accuracy"]
    a = champion.loc[champion["status"] == "settled", keep]
    b = challenger.loc[challenger["status"] == "settled", keep]
    both = a.merge(b, on=["race_id", "race_date"], suffixes=("_a", "_b"))
    if both.empty:
        return []
    hit_a = both["hit_1st_a"].astype("float64")
    hit_b = both["hit_1st_b"].astype("float64")
    diff = both["score_accuracy_b"].astype("float64") - both["score_accuracy_a"].astype("float64")
    frame = pd.DataFrame(
        {
            "day": _days(both["race_date"]),
            "champion_only": (hit_a > hit_b).astype("int64"),
            "challenger_only": (hit_b > hit_a).astype("int64"),
            "diff": diff,
            "diff_sq": diff**2,
        }
    )
    sums = frame.groupby("day", sort=True).agg(
        races=("champion_only", "size"),
        champion_only=("champion_only", "sum"),
        challenger_only=("challenger_only", "sum"),
        diff_n=("diff", "count"),
        diff_sum=("diff", "sum"),
        diff_sq_sum=("diff_sq", "sum"),
    )
    return [
        PairedDay(
            day=pd.Timestamp(day).date(),  # type: ignore[arg-type]  # a groupby key is Hashable to pandas-stubs
            races=int(row.races),
            champion_only=int(row.champion_only),
            challenger_only=int(row.challenger_only),
            diff_n=int(row.diff_n),
            diff_sum=float(row.diff_sum),
            diff_sq_sum=float(row.diff_sq_sum),
        )
        for day, row in sums.iterrows()
    ]


def market_daily_counts(outcomes: pd.DataFrame) -> list[DayCounts]:
    """Sum settled signals (``PerformanceMonitor.market_outcomes`` rows) per day.

    ``races`` counts the settled signals, ``hits_1st`` those whose direction was right,
    ``positives`` the bars that went up, and the score is each signal's probability score
    1 − (p − y)², so ``score_sum / score_n`` is one minus the Brier score. Pending signals are
    not counted; days without settled signals are left out.
    """
    settled = outcomes[outcomes["status"] == "settled"]
    if settled.empty:
        return []
    outcome = settled["outcome"].astype("float64")
    score = 1.0 - (settled["probability"].astype("float64") - outcome) ** 2
    frame = pd.DataFrame(
        {
            "day": _days(settled["signal_date"]),
            "hit": (settled["signal"].astype("float64") == outcome).astype("int64"),
            "up": outcome.astype("int64"),
            "score": score,
            "score_sq": score**2,
        }
    )
    sums = frame.groupby("day", sort=True).agg(
        signals=("hit", "size"),
        hits=("hit", "sum"),
        ups=("up", "sum"),
        score_sum=("score", "sum"),
        score_sq_sum=("score_sq", "sum"),
    )
    return [
        DayCounts(
            day=pd.Timestamp(day).date(),  # type: ignore[arg-type]  # a groupby key is Hashable to pandas-stubs
            races=int(row.signals),
            hits_1st=int(row.hits),
            score_n=int(row.signals),
            score_sum=float(row.score_sum),
            score_sq_sum=float(row.score_sq_sum),
            positives=int(row.ups),
        )
        for day, row in sums.iterrows()
    ]


def market_health_metrics(days: Sequence[DayCounts]) -> dict[str, float]:
    """The markets health policy's metrics over ``days`` pooled (see ``MARKETS_POLICY``).

    ``direction_accuracy`` (share of right directions), ``brier_score`` (mean (p − y)²),
    ``brier_skill`` = 1 − Brier / (u · (1 − u)) where u is the share of bars that went up:
    the skill against the forecast that always says the base rate (the probabilistic majority
    baseline; 0 = no better, negative = worse), ``majority_share`` (accuracy of always
    guessing the more frequent direction on the same bars, for context), ``error_rate`` 0 (the
    ledger holds outcomes, not serving errors) and ``total_signals``. NaN where undefined.

    Examples
    --------
    >>> from datetime import date
    >>> day = DayCounts(date(2017, 10, 2), races=4, hits_1st=3, score_n=4, score_sum=3.0, positives=2)
    >>> m = market_health_metrics([day])
    >>> m["direction_accuracy"], m["brier_score"], m["brier_skill"], m["majority_share"]
    (0.75, 0.25, 0.0, 0.5)
    """
    n = sum(d.races for d in days)
    k = sum(d.score_n for d in days)
    if not n or not k:
        nan = math.nan
        return {
            "direction_accuracy": nan,
            "brier_score": nan,
            "brier_skill": nan,
            "majority_share": nan,
            "error_rate": 0.0,
            "total_signals": float(n),
        }
    up = sum(d.positives for d in days) / n
    brier = 1.0 - sum(d.score_sum for d in days) / k
    base = up * (1.0 - up)
    return {
        "direction_accuracy": sum(d.hits_1st for d in days) / n,
        "brier_score": brier,
        "brier_skill": 1.0 - brier / base if base > 0 else math.nan,
        "majority_share": max(up, 1.0 - up),
        "error_rate": 0.0,
        "total_signals": float(n),
    }
