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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from stagewise.lifecycle.day_loop import (
    controller_turn,
    current_stage,
    group_value,
    replay_loop,
    slots_as_json,
)

if TYPE_CHECKING:
    from stagewise.lifecycle.scenario import ServedModel
    from stagewise.monitor import PerformanceMonitor
    from stagewise.notify import Notifier
    from stagewise.rollout import GradualRollout

__all__ = ["DayOutcome", "current_stage", "group_value", "replay_days", "slots_as_json"]


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


def _score_both(
    frame: pd.DataFrame, features: pd.DataFrame, champion: ServedModel, challenger: ServedModel
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Both models' predictions for every race of the day (cheap, and what a shadow deployment would
    log); the rollout decides which one's prediction is served and logged. A race model orders places
    2-6 with its place model, as the server does."""
    from stagewise.models.races import rank_races

    entries = frame[["race_id", "pit"]]
    return {
        name: _predictions(
            model.rank(entries, features) if hasattr(model, "rank") else rank_races(model, entries, features)
        )
        for name, (_, model) in (("champion", champion), ("challenger", challenger))
    }


def _serve(
    frame: pd.DataFrame,
    day: date,
    rollout: GradualRollout,
    feature: str,
    by_model: dict[str, dict[str, list[dict[str, Any]]]],
    versions: dict[str, str],
) -> list[dict[str, Any]]:
    """One logged prediction row per race, from the model its bucket routes it to."""
    rows = []
    for race_id, race in frame.groupby("race_id", sort=False):
        variant = rollout.variant(feature, str(race_id))
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
                "model_version": versions[served],
                "variant": variant,
            }
        )
    return rows


def _day_alerts(
    monitor: PerformanceMonitor, day: date, rows: Sequence[dict[str, Any]], cohort_alerts: bool
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The day's stats and alerts; with ``cohort_alerts`` the rules also run on each challenger cohort."""
    stats = monitor.calculate_daily_stats(day.isoformat())
    alerts = monitor.check_alerts(day.isoformat(), stats) if stats else []
    if cohort_alerts:
        for variant in sorted({str(r["variant"]) for r in rows} - {"control"}):
            cohort = monitor.calculate_daily_stats(day.isoformat(), variant=variant)
            if cohort:
                monitor.check_alerts(day.isoformat(), cohort, variant=variant)
    return stats, list(alerts or [])


def _days(races: pd.DataFrame) -> Iterator[tuple[date, pd.DataFrame]]:
    for day_value, frame in races.groupby("race_date", sort=True):
        yield pd.Timestamp(str(day_value)).date(), frame


@dataclass(frozen=True, slots=True)
class _RaceDays:
    """Plays one race day: predictions at 09:00, results at 21:00, the controller at 06:00 next day."""

    rollout: GradualRollout
    monitor: PerformanceMonitor
    feature: str
    champion: ServedModel
    challenger: ServedModel
    clock: Callable[[datetime], None]
    notifiers: Sequence[Notifier]
    health_window_days: int
    feature_sample_per_day: int
    cohort_alerts: bool

    def play(self, day: date, frame: pd.DataFrame) -> DayOutcome:
        from stagewise.data import race_results
        from stagewise.features.races import race_entry_features

        rollout, monitor, feature = self.rollout, self.monitor, self.feature
        self.clock(datetime.combine(day, time(9, 0)))
        stage_before = current_stage(rollout, feature)
        features = race_entry_features(frame)
        if self.feature_sample_per_day > 0:
            monitor.log_features(day, features, max_rows_per_day=self.feature_sample_per_day)
        by_model = _score_both(frame, features, self.champion, self.challenger)
        versions = {"champion": self.champion[0], "challenger": self.challenger[0]}
        rows = _serve(frame, day, rollout, feature, by_model, versions)
        monitor.log_predictions(rows)  # before the races: pending until their results arrive
        self.clock(datetime.combine(day, time(21, 0)))
        results = race_results(frame)
        monitor.log_results([(row["race_id"], results[row["race_id"]]) for row in rows])
        stats, alerts = _day_alerts(monitor, day, rows, self.cohort_alerts)
        # The controller runs the next morning, once the day's results are in (as a daily cron job
        # would): it reads every complete day up to yesterday, and a stage it changes starts today.
        turn = controller_turn(
            rollout, monitor, feature, at=datetime.combine(day + timedelta(days=1), time(6, 0)),
            clock=self.clock, notifiers=self.notifiers, health_window_days=self.health_window_days,
        )  # fmt: skip
        hit = math.nan if stats is None or stats["hit_rate_1st"] is None else stats["hit_rate_1st"]
        return DayOutcome(
            feature=feature,
            day=day.isoformat(),
            stage_before=stage_before,
            races=len(rows),
            challenger_races=sum(1 for r in rows if r["variant"] != "control"),
            hit_rate_1st=hit,
            challenger_hit_rate_1st=group_value(turn.cumulative, "challenger", "hit_rate_1st"),
            control_hit_rate_1st=group_value(turn.cumulative, "control", "hit_rate_1st"),
            alerts=tuple(str(a.get("alert_type")) for a in alerts),
            action=turn.action,
            stage_after=turn.stage_after,
            reasons=turn.reasons,
            notifications=turn.notifications,
        )


def replay_days(
    races: pd.DataFrame,
    *,
    rollout: GradualRollout,
    monitor: PerformanceMonitor,
    feature: str,
    champion: ServedModel,
    challenger: ServedModel,
    clock: Callable[[datetime], None],
    notifiers: Sequence[Notifier] = (),
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
    days = _RaceDays(
        rollout, monitor, feature, champion, challenger, clock, notifiers,
        health_window_days, feature_sample_per_day, cohort_alerts,
    )  # fmt: skip
    return replay_loop(_days(races), days.play, on_day=on_day, days_after_rollback=days_after_rollback)
