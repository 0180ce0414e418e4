"""Replay "live" race days: route each race by the rollout, log it, settle it, let the controller decide.

Each simulated day goes through the steps a production day would: every race is routed to
the champion or the challenger by :meth:`GradualRollout.variant` (``"on"`` or ``"control"``,
the ledger convention the controller reads), its prediction is logged before the race
(pending), its result after it, the day's stats and alerts are computed, and the controller
decides early the next morning (the clock set to 06:00 of the following day), reading every
complete day so far.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd

__all__ = ["DayOutcome", "current_stage", "group_value", "replay_days", "slots_as_json"]


def slots_as_json(outcome: Any) -> dict[str, Any]:
    """A slotted day record as plain JSON: NaN becomes None, tuples become lists."""
    out: dict[str, Any] = {}
    for name in outcome.__slots__:
        value = getattr(outcome, name)
        if isinstance(value, float) and math.isnan(value):
            value = None
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


@dataclass(frozen=True, slots=True)
class DayOutcome:
    """What happened on one replayed day (the controller's view in ``action`` and ``reasons``)."""

    feature: str
    day: str
    stage_before: str
    races: int
    challenger_races: int
    hit_rate_1st: float
    challenger_hit_rate_1st: float
    control_hit_rate_1st: float
    alerts: tuple[str, ...]
    action: str
    stage_after: str
    reasons: tuple[str, ...]
    notifications: int

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (NaN becomes None)."""
        return slots_as_json(self)


def _predictions(ranking: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    ordered = ranking.sort_values(["race_id", "predicted_rank"], kind="stable")
    out: dict[str, list[dict[str, Any]]] = {}
    for race_id, pit, score in zip(ordered["race_id"], ordered["pit"], ordered["score"], strict=True):
        out.setdefault(str(race_id), []).append({"pit_number": int(pit), "total_score": float(score)})
    return out


def group_value(cumulative: dict[str, Any], group: str, key: str) -> float:
    """One group's cumulative figure from the controller's numbers (NaN when it has none yet)."""
    value = (cumulative.get(group) or {}).get(key)
    return math.nan if value is None else float(value)


def current_stage(rollout: Any, feature: str) -> str:
    """The feature's stage as the rollout reports it now."""
    return str(rollout.get_rollout_status()["feature_rollouts"][feature]["stage"])


def replay_days(
    races: pd.DataFrame,
    *,
    rollout: Any,
    monitor: Any,
    feature: str,
    champion: tuple[str, Any],
    challenger: tuple[str, Any],
    clock: Callable[[datetime], None],
    notifiers: Sequence[Any] = (),
    on_day: Callable[[DayOutcome], None] | None = None,
    days_after_rollback: int | None = None,
    health_window_days: int = 7,
    feature_sample_per_day: int = 0,
    cohort_alerts: bool = False,
) -> list[DayOutcome]:
    """Replay every day of ``races``; ``champion``/``challenger`` are ``(version, model)`` pairs.

    ``clock(moment)`` sets the simulated time (09:00 predictions, 21:00 results, 06:00 next day the
    controller). With ``days_after_rollback=k`` the replay stops ``k`` days after the
    controller rolled the feature back (nothing more to watch). ``health_window_days`` goes to
    :func:`~stagewise.rollout.controller_runner.run_controller`. ``feature_sample_per_day > 0``
    logs that many values per feature and day (``PerformanceMonitor.log_features``), the sample
    ``monitor drift`` and the dashboard compare. ``cohort_alerts`` also checks the alert rules on
    each day's challenger cohort alone (segment ``variant``), where a bad challenger shows long
    before it moves the day's overall figures; days without challenger races are not checked.
    """
    from stagewise.data import race_results
    from stagewise.features.races import race_entry_features
    from stagewise.models.races import rank_races
    from stagewise.rollout.controller_runner import run_controller

    outcomes: list[DayOutcome] = []
    rolled_back_at: int | None = None
    for index, (day_value, frame) in enumerate(races.groupby("race_date", sort=True)):
        stop = rolled_back_at is not None and days_after_rollback is not None
        if stop and index - rolled_back_at > days_after_rollback:  # type: ignore[operator]
            break
        day: date = pd.Timestamp(str(day_value)).date()
        clock(datetime.combine(day, time(9, 0)))
        stage_before = current_stage(rollout, feature)
        features = race_entry_features(frame)
        if feature_sample_per_day > 0:
            monitor.log_features(day, features, max_rows_per_day=feature_sample_per_day)
        entries = frame[["race_id", "pit"]]
        # Both models score every race (cheap, and what a shadow deployment would log); the rollout
        # decides which one's prediction is served and logged.
        # a race model orders places 2-6 with its place model, as the server does
        by_model = {
            name: _predictions(
                model.rank(entries, features)
                if hasattr(model, "rank")
                else rank_races(model, entries, features)
            )
            for name, (_, model) in (("champion", champion), ("challenger", challenger))
        }
        rows = []
        for race_id, race in frame.groupby("race_id", sort=False):
            variant = rollout.variant(feature, race_id)
            served = "champion" if variant == "control" else "challenger"
            first = race.iloc[0]
            rows.append(
                {
                    "race_id": str(race_id),
                    "race_date": day.isoformat(),
                    "venue_code": int(first["venue_code"]),
                    "race_number": int(first["race_number"]),
                    "predictions": by_model[served][str(race_id)],
                    "integration_mode": "DEMO",
                    "feature_flags": {feature: served == "challenger"},
                    "model_version": champion[0] if served == "champion" else challenger[0],
                    "variant": variant,
                }
            )
        monitor.log_predictions(rows)  # before the races: pending until their results arrive
        clock(datetime.combine(day, time(21, 0)))
        results = race_results(frame)
        monitor.log_results([(row["race_id"], results[row["race_id"]]) for row in rows])
        stats = monitor.calculate_daily_stats(day.isoformat())
        alerts = monitor.check_alerts(day.isoformat(), stats) if stats else []
        if cohort_alerts:
            for variant in sorted({str(r["variant"]) for r in rows} - {"control"}):
                cohort = monitor.calculate_daily_stats(day.isoformat(), variant=variant)
                if cohort:
                    monitor.check_alerts(day.isoformat(), cohort, variant=variant)
        # The controller runs the next morning, once the day's results are in (as a daily cron job
        # would): it reads every complete day up to yesterday, and a stage it changes starts today.
        morning = datetime.combine(day + timedelta(days=1), time(6, 0))
        clock(morning)
        decision = run_controller(
            rollout, monitor, feature, now=morning, notifiers=notifiers, health_window_days=health_window_days
        )
        cumulative = decision.numbers.get("cumulative") or {}
        outcome = DayOutcome(
            feature=feature,
            day=day.isoformat(),
            stage_before=stage_before,
            races=len(rows),
            challenger_races=sum(1 for r in rows if r["variant"] != "control"),
            hit_rate_1st=math.nan
            if stats is None or stats["hit_rate_1st"] is None
            else stats["hit_rate_1st"],
            challenger_hit_rate_1st=group_value(cumulative, "challenger", "hit_rate_1st"),
            control_hit_rate_1st=group_value(cumulative, "control", "hit_rate_1st"),
            alerts=tuple(str(a.get("alert_type")) for a in alerts or []),
            action=str(decision.action),
            stage_after=current_stage(rollout, feature),
            reasons=tuple(str(r) for r in decision.reasons),
            notifications=len(decision.numbers.get("notifications") or []),
        )
        outcomes.append(outcome)
        if decision.action == "rollback" and rolled_back_at is None:
            rolled_back_at = index
        if on_day is not None:
            on_day(outcome)
    return outcomes
