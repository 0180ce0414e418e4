"""Per-day counts of a cohort from the monitor's per-race outcomes (``PerformanceMonitor.race_outcomes``).

The controller's only reading of the ledger goes through the monitor's public
``race_outcomes`` frame (one row per logged prediction with its hit flags, score
accuracy and status); these functions sum it per day for one group
(:func:`daily_counts`) or pair two model versions on the races both scored
(:func:`paired_days`, shadow mode).
"""

from __future__ import annotations

import pandas as pd

from stagewise.rollout.harm import DayCounts, PairedDay

__all__ = ["daily_counts", "paired_days"]


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
            "day": pd.to_datetime(settled["race_date"]).dt.date,
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
            day=day,  # type: ignore[arg-type]
            races=int(row.races),
            hits_1st=int(row.hits_1st),
            hits_top3=int(row.hits_top3),
            score_n=int(row.score_n),
            score_sum=float(row.score_sum),
            score_sq_sum=float(row.score_sq_sum),
        )
        for day, row in sums.iterrows()
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
            "day": pd.to_datetime(both["race_date"]).dt.date,
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
            day=day,  # type: ignore[arg-type]
            races=int(row.races),
            champion_only=int(row.champion_only),
            challenger_only=int(row.challenger_only),
            diff_n=int(row.diff_n),
            diff_sum=float(row.diff_sum),
            diff_sq_sum=float(row.diff_sq_sum),
        )
        for day, row in sums.iterrows()
    ]
