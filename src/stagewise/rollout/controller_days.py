"""Which days the controller judges: when the stage began, which days are complete, and each day's window.

* :func:`stage_start` / :func:`stage_first_day`: the day a stage began, from the audit log;
* :func:`first_unserved_day`: the first day no unit (race or signal) is logged for yet (a stage set now
  applies to it in full);
* :class:`CompleteDays`: an outcome source that leaves out every day with a pending prediction;
* :func:`windowed_health`: each day's health verdict over a trailing window, widened a day at a
  time to the policy's minimum sample (:func:`health_window`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from stagewise._domain import Domain
from stagewise.rollout.gradual import GradualRollout
from stagewise.rollout.harm import DayCounts
from stagewise.rollout.health import evaluate_health
from stagewise.rollout.outcomes import OutcomeSource, OutcomeSums

__all__ = [
    "MAX_AHEAD_DAYS",
    "CompleteDays",
    "first_unserved_day",
    "health_window",
    "pooled_race_metrics",
    "stage_first_day",
    "stage_start",
    "unit_domain",
    "windowed_health",
]


def stage_start(audit: Sequence[Mapping[str, Any]], feature: str, stage: str) -> date | None:
    """The day the feature last moved to ``stage`` according to the audit log, or None."""
    for entry in reversed(audit):
        if entry.get("feature") != feature or entry.get("old_stage") == entry.get("new_stage"):
            continue
        if entry.get("new_stage") != stage:
            return None  # the last move went elsewhere: the log and the config disagree
        at = entry.get("at")
        if isinstance(at, str) and len(at) >= 10:
            return date.fromisoformat(at[:10])
        return None
    return None


def stage_first_day(audit: Sequence[Mapping[str, Any]], feature: str, stage: str) -> date | None:
    """The first race day served wholly at ``stage``: the ``effective_from`` the move recorded, else its day.

    The controller records ``details["effective_from"]`` when it moves a stage
    (:func:`first_unserved_day`): moved in the evening, the day's races were served at the
    old stage and the new stage starts the next day. A move without it (by hand) starts on
    the day it was made.
    """
    for entry in reversed(audit):
        if entry.get("feature") != feature or entry.get("old_stage") == entry.get("new_stage"):
            continue
        details = entry.get("details")
        effective = details.get("effective_from") if isinstance(details, Mapping) else None
        if entry.get("new_stage") == stage and isinstance(effective, str):
            return date.fromisoformat(effective)
        break
    return stage_start(audit, feature, stage)


MAX_AHEAD_DAYS = 31
"""How far ahead :func:`first_unserved_day` looks for predictions logged before their day."""


def unit_domain(rollout: GradualRollout) -> Domain:
    """The domain of the rollout's units: signals under the markets health policy, races otherwise."""
    return Domain.MARKETS if rollout.health_policy.domain == Domain.MARKETS else Domain.RACES


def first_unserved_day(outcomes: OutcomeSource, today: date, domain: Domain = Domain.RACES) -> date:
    """The first day no unit of ``domain`` is logged for yet: a stage set now applies to it in full.

    ``today``, unless units dated today (or later: logged ahead) are already logged, i.e. were
    served at the stage in force when they were made. Only the rollout's own domain counts:
    races logged ahead say nothing of when market signals were served, and the other way round.
    """
    ahead = today + timedelta(days=MAX_AHEAD_DAYS)
    if domain == Domain.MARKETS:
        logged, column = outcomes.market_outcomes(today, ahead), "signal_date"
    else:
        logged, column = outcomes.race_outcomes(today, ahead), "race_date"
    if logged.empty:
        return today
    last = pd.Timestamp(logged[column].max()).date()
    return max(today, last + timedelta(days=1))


class CompleteDays:
    """An outcome source that reads each range of the ledger once and leaves out days still pending.

    The first read of a range (``start_date``, ``end_date``) fetches every group's rows in one query;
    each group (a variant or a model version) is then taken from those rows in memory, so a daily
    run costs one ledger query per range however many groups and metrics it judges.

    A day is judged once every prediction logged for it is settled or void: read before
    its results are in, it would count its predictions in the sample-ratio check and
    only its settled part in the health window. Which days are left out is decided on
    all groups at once and kept in ``pending_days``. ``market_outcomes`` keeps its pending
    signals (a pending signal is simply not counted).
    """

    def __init__(self, source: OutcomeSource) -> None:
        self._source = source
        self._races: dict[tuple[date, date], pd.DataFrame] = {}
        self._signals: dict[tuple[date, date], pd.DataFrame] = {}
        self._sums: dict[tuple[Any, ...], pd.DataFrame] = {}
        self.pending_days: set[date] = set()

    def race_outcomes(
        self,
        start_date: date,
        end_date: date,
        *,
        model_version: str | None = None,
        variant: str | None = None,
    ) -> pd.DataFrame:
        key = (start_date, end_date)
        if key not in self._races:
            every = self._source.race_outcomes(start_date, end_date)
            self._races[key] = self._without_pending(every, every["status"] == "pending")
        return _group(self._races[key], model_version, variant)

    def _without_pending(self, rows: pd.DataFrame, pending: pd.Series) -> pd.DataFrame:
        """``rows`` without the days on which a ``pending`` row stands; those days join ``pending_days``."""
        days = pd.to_datetime(rows["race_date"]).dt.normalize()
        pending_days = days[pending.to_numpy()].unique()
        self.pending_days |= {pd.Timestamp(day).date() for day in pending_days}
        if not len(pending_days):
            return rows
        return rows[~days.isin(pending_days).to_numpy()].reset_index(drop=True)

    def race_sums(
        self,
        start_date: date,
        end_date: date,
        values: Sequence[str],
        pairs: Sequence[tuple[str, str]] = (),
        *,
        variant: str | None = None,
        rollout_feature: str | None = None,
    ) -> pd.DataFrame:
        """The ledger's per-day sums (:class:`~stagewise.rollout.outcomes.OutcomeSums`) of one variant
        (all when None), read once per range and request, without the days still pending."""
        if not isinstance(self._source, OutcomeSums):
            raise TypeError(f"{type(self._source).__name__} cannot sum outcomes (no race_outcome_sums)")
        key = (start_date, end_date, tuple(values), tuple(pairs), rollout_feature)
        if key not in self._sums:
            every = self._source.race_outcome_sums(
                start_date, end_date, values=values, pairs=pairs, rollout_feature=rollout_feature
            )
            pending = (every["status"] == "pending") & (every["units"] > 0)
            self._sums[key] = self._without_pending(every, pending)
        return _group(self._sums[key], None, variant)

    def market_outcomes(
        self,
        start_date: date,
        end_date: date,
        *,
        model_version: str | None = None,
        variant: str | None = None,
    ) -> pd.DataFrame:
        key = (start_date, end_date)
        if key not in self._signals:
            self._signals[key] = self._source.market_outcomes(start_date, end_date)
        return _group(self._signals[key], model_version, variant)


def _group(rows: pd.DataFrame, model_version: str | None, variant: str | None) -> pd.DataFrame:
    """The rows of one model version and/or variant (all rows when both are None), order kept."""
    keep = pd.Series(True, index=rows.index)
    for column, value in (("model_version", model_version), ("variant", variant)):
        if value is not None:
            keep &= rows[column] == value
    return rows if bool(keep.all()) else rows[keep].reset_index(drop=True)


def pooled_race_metrics(days: Sequence[DayCounts]) -> dict[str, float]:
    """The races health policy's metrics over ``days`` pooled (NaN where there is nothing to divide)."""
    races = sum(d.races for d in days)
    n = sum(d.score_n for d in days)
    return {
        "hit_rate_1st": sum(d.hits_1st for d in days) / races if races else math.nan,
        "hit_rate_top3": sum(d.hits_top3 for d in days) / races if races else math.nan,
        "avg_score_accuracy": sum(d.score_sum for d in days) / n if n else math.nan,
        # The ledger records outcomes, not serving errors: the error-rate rule sees 0.
        "error_rate": 0.0,
        "total_races": races,
    }


def health_window(
    days: Sequence[DayCounts], since: date | None, window: int, widest: int, min_sample: int
) -> tuple[list[DayCounts], int]:
    """The days pooled for the verdict of the last of ``days``, and how many calendar days they span.

    The last ``window`` calendar days at the stage, widened a day at a time until they hold
    ``min_sample`` units, ``widest`` days are reached, or the stage has no earlier day.
    """
    last = days[-1].day
    at_stage = [d for d in days if since is None or d.day >= since]
    span = window
    while True:
        low = last - timedelta(days=span - 1)
        chosen = [d for d in at_stage if d.day >= low]
        enough = sum(d.races for d in chosen) >= min_sample
        if enough or span >= widest or not at_stage or low <= at_stage[0].day:
            return chosen, span
        span += 1


def windowed_health(
    rollout: GradualRollout,
    feature: str,
    days: Sequence[DayCounts],
    since: date | None,
    window: int,
    now: datetime,
    pooled: Callable[[Sequence[DayCounts]], dict[str, float]] = pooled_race_metrics,
    *,
    max_window: int | None = None,
) -> tuple[dict[date, str], dict[date, list[str]], dict[date, dict[str, int]]]:
    """Each day's verdict at the stage over its :func:`health_window`, the reasons, and the windows."""
    verdicts: dict[date, str] = {}
    reasons: dict[date, list[str]] = {}
    windows: dict[date, dict[str, int]] = {}
    min_sample = rollout.health_policy.min_sample
    for i, day in enumerate(days):
        if since is not None and day.day < since:
            continue
        in_window, span = health_window(days[: i + 1], since, window, max_window or window, min_sample)
        windows[day.day] = {"days": span, "sample": sum(d.races for d in in_window)}
        metrics = pooled(in_window)
        if any(isinstance(v, float) and math.isnan(v) for v in metrics.values()):
            verdicts[day.day], reasons[day.day] = "INSUFFICIENT_DATA", ["no settled outcomes with a score"]
            continue
        verdict = evaluate_health(metrics, rollout.health_policy, feature_name=feature, now=now)
        verdicts[day.day] = str(verdict["status"])
        reasons[day.day] = [*verdict["issues"], *verdict["warnings"]]
    return verdicts, reasons, windows
