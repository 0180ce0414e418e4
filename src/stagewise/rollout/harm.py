"""Daily counts of the two groups and the controller's harm tests on them (pure).

The controller asks one statistical question every day: *is the challenger worse
than control?* It is answered by the one-sided, always-valid mSPRT of
:mod:`stagewise.rollout.experiments.sequential`, one look per day, on the counts
since the feature was first enabled: two independent groups (the rollout split),
or paired races when both models scored every race (shadow mode).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from stagewise.rollout.experiments.sequential import (
    DEFAULT_TAU,
    SequentialResult,
    sequential_from_estimates,
    sequential_paired_hits,
    sequential_two_means,
    sequential_two_proportions,
)

__all__ = ["DayCounts", "PairedDay", "aligned", "harm_tests"]


@dataclass(frozen=True)
class DayCounts:
    """One group's settled counts for one day (what the monitor's daily stats hold).

    Races: ``races`` settled races, ``hits_1st`` won, ``score_*`` over the score accuracy.
    Markets (:func:`~stagewise.rollout.cohorts.market_daily_counts`): ``races`` settled signals,
    ``hits_1st`` right directions, ``positives`` bars that went up, ``score_*`` over each
    signal's probability score 1 − (p − y)² (one minus its Brier score).
    """

    day: date
    races: int
    hits_1st: int
    hits_top3: int = 0
    score_n: int = 0
    score_sum: float = 0.0
    score_sq_sum: float = 0.0
    positives: int = 0

    @property
    def hit_rate_1st(self) -> float:
        return self.hits_1st / self.races if self.races else math.nan

    @property
    def hit_rate_top3(self) -> float:
        return self.hits_top3 / self.races if self.races else math.nan

    @property
    def avg_score_accuracy(self) -> float:
        return self.score_sum / self.score_n if self.score_n else math.nan

    def metrics(self) -> dict[str, float]:
        """The seed's health metrics for this day."""
        return {
            "hit_rate_1st": self.hit_rate_1st,
            "hit_rate_top3": self.hit_rate_top3,
            "avg_score_accuracy": self.avg_score_accuracy,
            "error_rate": 0.0,
        }


@dataclass(frozen=True)
class PairedDay:
    """One day of races that both models scored (shadow mode), as paired sums.

    ``champion_only`` / ``challenger_only`` count races that only that model won;
    ``diff_*`` are over the per-race score-accuracy differences (challenger − champion)
    where both are defined.
    """

    day: date
    races: int
    champion_only: int
    challenger_only: int
    diff_n: int = 0
    diff_sum: float = 0.0
    diff_sq_sum: float = 0.0


def _cumulative(days: Sequence[DayCounts], attr: str) -> list[float]:
    total, out = 0.0, []
    for d in days:
        total += float(getattr(d, attr))
        out.append(total)
    return out


def aligned(
    challenger_days: Sequence[DayCounts], control_days: Sequence[DayCounts]
) -> tuple[list[DayCounts], list[DayCounts]]:
    """Challenger and control days on the same dates (a missing day is zero races)."""
    challenger = {d.day: d for d in challenger_days}
    control = {d.day: d for d in control_days}
    days = sorted(set(challenger) | set(control))
    return (
        [challenger.get(d, DayCounts(d, 0, 0)) for d in days],
        [control.get(d, DayCounts(d, 0, 0)) for d in days],
    )


def _paired(
    days: Sequence[PairedDay], alpha: float, tau_hit: float, tau_score: float
) -> dict[str, SequentialResult]:
    ordered = sorted(days, key=lambda d: d.day)
    n = np.cumsum([d.races for d in ordered], dtype=np.float64)
    b = np.cumsum([d.champion_only for d in ordered], dtype=np.float64)
    c = np.cumsum([d.challenger_only for d in ordered], dtype=np.float64)
    hit = sequential_paired_hits(b, c, n, alpha, tau_hit, "less")
    k = np.cumsum([d.diff_n for d in ordered], dtype=np.float64)
    total = np.cumsum([d.diff_sum for d in ordered], dtype=np.float64)
    squares = np.cumsum([d.diff_sq_sum for d in ordered], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / k
        variance = np.where(k >= 2, np.clip((squares - k * mean**2) / (k - 1.0), 0.0, None) / k, np.nan)
    score = sequential_from_estimates(mean, variance, alpha, tau_score, "less")
    return {"hit_rate_1st": hit, "avg_score_accuracy": score}


def harm_tests(
    challenger: Sequence[DayCounts],
    control: Sequence[DayCounts],
    paired: Sequence[PairedDay] | None = None,
    *,
    alpha: float = 0.05,
    tau_hit: float = DEFAULT_TAU,
    tau_score: float = 0.02,
) -> dict[str, SequentialResult] | None:
    """One-sided mSPRT (challenger worse) on win hit rate and score accuracy, one look per day.

    Paired (McNemar-like, on the same races) when the evidence has shadow-mode pairs,
    otherwise two independent groups. ``alpha`` is the level of *each* test; the
    controller passes half its budget to each (Bonferroni), so that "either test
    fires" stays at most its ``alpha``.
    """
    if paired:
        return _paired(paired, alpha, tau_hit, tau_score)
    chall, ctrl = aligned(challenger, control)
    if not chall or not any(d.races for d in ctrl):
        return None
    c = {a: _cumulative(ctrl, a) for a in ("races", "hits_1st", "score_n", "score_sum", "score_sq_sum")}
    t = {a: _cumulative(chall, a) for a in ("races", "hits_1st", "score_n", "score_sum", "score_sq_sum")}
    hit = sequential_two_proportions(
        c["hits_1st"], c["races"], t["hits_1st"], t["races"], alpha, tau_hit, "less"
    )
    score = sequential_two_means(
        c["score_sum"], c["score_sq_sum"], c["score_n"], t["score_sum"], t["score_sq_sum"], t["score_n"],
        alpha, tau_score, "less",
    )  # fmt: skip
    return {"hit_rate_1st": hit, "avg_score_accuracy": score}
