"""Replay "live" race days: route each race by the rollout, log it, settle it, let the controller decide.

Each simulated day goes through the steps a production day would: every race is routed to
the champion or the challenger by :meth:`GradualRollout.variant`, its prediction is logged
before the race (pending), its result after it, the day's stats and alerts are computed, and
the controller decides at the end of the day with the clock set to that day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import pandas as pd

__all__ = ["DayOutcome", "replay_days"]


@dataclass(frozen=True, slots=True)
class DayOutcome:
    """What happened on one replayed day."""

    day: str
    stage_before: str
    races: int
    challenger_races: int
    hit_rate_1st: float
    action: str
    stage_after: str
    reasons: tuple[str, ...]


def _predictions(ranking: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    ordered = ranking.sort_values(["race_id", "predicted_rank"], kind="stable")
    out: dict[str, list[dict[str, Any]]] = {}
    for race_id, pit, score in zip(ordered["race_id"], ordered["pit"], ordered["score"], strict=True):
        out.setdefault(str(race_id), []).append({"pit_number": int(pit), "total_score": float(score)})
    return out


def replay_days(
    races: pd.DataFrame,
    *,
    rollout: Any,
    monitor: Any,
    feature: str,
    champion: tuple[str, Any],
    challenger: tuple[str, Any],
    notifiers: Sequence[Any] = (),
    clock: Callable[[datetime], None],
    on_day: Callable[[DayOutcome], None] | None = None,
) -> list[DayOutcome]:
    """Replay every day of ``races``; ``champion``/``challenger`` are ``(version, model)`` pairs."""
    from stagewise.data import race_results
    from stagewise.features.races import race_entry_features
    from stagewise.models.races import rank_races
    from stagewise.rollout.controller_runner import run_controller

    outcomes: list[DayOutcome] = []
    for day_value, frame in races.groupby("race_date", sort=True):
        day: date = pd.to_datetime(str(day_value)).date()
        clock(datetime.combine(day, time(9, 0)))
        stage_before = str(rollout.get_rollout_status()["feature_rollouts"][feature]["stage"])
        features = race_entry_features(frame)
        entries = frame[["race_id", "pit"]]
        by_model = {
            "champion": _predictions(rank_races(champion[1], entries, features)),
            "challenger": _predictions(rank_races(challenger[1], entries, features)),
        }
        rows = []
        for race_id, race in frame.groupby("race_id", sort=False):
            variant = rollout.variant(feature, race_id)
            version = challenger[0] if variant != "control" else champion[0]
            chosen = by_model["challenger" if variant != "control" else "champion"][str(race_id)]
            first = race.iloc[0]
            rows.append(
                {
                    "race_id": str(race_id),
                    "race_date": day.isoformat(),
                    "venue_code": int(first["venue_code"]),
                    "race_number": int(first["race_number"]),
                    "predictions": chosen,
                    "integration_mode": "DEMO",
                    "feature_flags": {feature: variant != "control"},
                    "model_version": version,
                    "variant": variant,
                }
            )
        monitor.log_predictions(rows)  # before the races: pending
        clock(datetime.combine(day, time(21, 0)))
        results = race_results(frame)
        monitor.log_results([(row["race_id"], results[row["race_id"]]) for row in rows])
        stats = monitor.calculate_daily_stats(day.isoformat())
        monitor.check_alerts(day.isoformat(), stats)
        decision = run_controller(
            rollout,
            monitor,
            feature,
            now=datetime.combine(day, time(23, 0)),
            notifiers=notifiers,
        )
        outcome = DayOutcome(
            day=day.isoformat(),
            stage_before=stage_before,
            races=len(rows),
            challenger_races=sum(1 for r in rows if r["variant"] != "control"),
            hit_rate_1st=float(stats["hit_rate_1st"]) if stats else float("nan"),
            action=str(decision.action),
            stage_after=str(rollout.get_rollout_status()["feature_rollouts"][feature]["stage"]),
            reasons=tuple(str(r) for r in decision.reasons),
        )
        outcomes.append(outcome)
        if on_day is not None:
            on_day(outcome)
    return outcomes
