"""Replay "live" market bars: route each bar, log its signal, settle it, let the controller decide.

Each bar goes through what a live direction model would do. At the bar's close the bar whose
outcome just became known is settled (``log_market_outcome``), then the new bar is routed by
:meth:`GradualRollout.should_enable_feature` on its unit id ``SYMBOL:timestamp`` (enabled →
the challenger, ledger variant ``"on"``; otherwise the champion, ``"control"``) and the served
model's signal is logged, pending (``log_signal``). A signal's outcome (1 = the next close is
higher) is known only at the close of the next bar, so every signal is in the ledger before its
outcome. At midnight UTC the day's stats and alerts are computed and the controller decides,
reading every complete day so far; the stage it sets applies to every bar of the new day.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from stagewise.lifecycle.replay import current_stage, group_value, slots_as_json

__all__ = ["MarketDayOutcome", "replay_market_days", "unit_id"]


@dataclass(frozen=True, slots=True)
class MarketDayOutcome:
    """What happened on one replayed market day (the controller's view in ``action`` and ``reasons``).

    ``accuracy`` is the day's share of right directions over the signals settled by midnight; the
    ``challenger_*`` and ``control_*`` figures are cumulative since the rollout began, as the
    controller read them (Brier = mean squared error of the probability, lower is better).
    ``health`` is the challenger's verdict for the day over the health window; ``alerts`` the
    monitor's alerts firing that day.
    """

    feature: str
    day: str
    stage_before: str
    signals: int
    challenger_signals: int
    accuracy: float
    challenger_accuracy: float
    control_accuracy: float
    challenger_brier: float
    control_brier: float
    health: str | None
    alerts: tuple[str, ...]
    action: str
    stage_after: str
    reasons: tuple[str, ...]
    notifications: int

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (NaN becomes None)."""
        return slots_as_json(self)


def unit_id(symbol: str, timestamp: pd.Timestamp) -> str:
    """The rollout unit of a bar: ``"EURUSD:2017-10-19T09:00:00"`` (stable across runs and machines)."""
    return f"{symbol}:{timestamp.isoformat()}"


def replay_market_days(
    live: pd.DataFrame,
    *,
    symbol: str,
    rollout: Any,
    monitor: Any,
    feature: str,
    champion: tuple[str, Any],
    challenger: tuple[str, Any],
    feature_names: Sequence[str],
    clock: Callable[[datetime], None],
    bar: timedelta = timedelta(hours=1),
    policy: Any = None,
    notifiers: Sequence[Any] = (),
    on_day: Callable[[MarketDayOutcome], None] | None = None,
    days_after_rollback: int | None = None,
    health_window_days: int = 7,
) -> list[MarketDayOutcome]:
    """Replay every bar of ``live``; ``champion``/``challenger`` are ``(version, model)`` pairs.

    ``live`` is indexed by bar timestamp (the bar's open) and holds ``feature_names``, ``outcome``
    (0/1: the next close is higher) and ``known_at`` (when that outcome is known: the next bar's
    close). ``clock(moment)`` sets the simulated time; ``bar`` is the bar length. With
    ``days_after_rollback=k`` the replay stops ``k`` days after a rollback. ``policy`` and
    ``health_window_days`` go to :func:`~stagewise.rollout.controller_runner.run_controller`.
    """
    from stagewise.rollout.controller_runner import ON, run_controller

    matrix = live[list(feature_names)]  # named columns: the models check names and order
    # Both models score every bar (cheap, and what a shadow deployment would log); the rollout
    # decides whose signal is served and logged.
    proba = {
        "champion": champion[1].predict_proba(matrix)[:, 1],
        "challenger": challenger[1].predict_proba(matrix)[:, 1],
    }
    outcomes = live["outcome"].to_numpy(dtype=np.int64)
    known_at = pd.DatetimeIndex(live["known_at"])
    pending: list[tuple[pd.Timestamp, int, pd.Timestamp]] = []

    def settle(until: pd.Timestamp) -> None:
        while pending and pending[0][2] <= until:
            ts, outcome, _ = pending.pop(0)
            monitor.log_market_outcome(symbol, ts, outcome)

    results: list[MarketDayOutcome] = []
    rolled_back_at: int | None = None
    stamps = pd.DatetimeIndex(live.index)
    days = stamps.normalize()
    for index, day_value in enumerate(days.unique()):
        stop = rolled_back_at is not None and days_after_rollback is not None
        if stop and index - rolled_back_at > days_after_rollback:  # type: ignore[operator]
            break
        day: date = day_value.date()
        stage_before = current_stage(rollout, feature)
        positions = np.flatnonzero(days == day_value)
        served_by_challenger = 0
        for i in positions.tolist():
            ts = stamps[i]
            closed = ts + bar
            clock(closed.to_pydatetime())
            settle(closed)
            enabled = rollout.should_enable_feature(feature, unit_id(symbol, ts))
            who, (version, _) = ("challenger", challenger) if enabled else ("champion", champion)
            p = float(proba[who][i])
            monitor.log_signal(
                symbol, ts, int(p >= 0.5), p, model_version=version, variant=ON if enabled else "control"
            )
            pending.append((ts, int(outcomes[i]), known_at[i]))
            served_by_challenger += int(enabled)
        midnight = datetime.combine(day + timedelta(days=1), time(0, 0))
        clock(midnight)
        settle(pd.Timestamp(midnight))
        stats = monitor.calculate_market_stats(day.isoformat())
        alerts = monitor.check_alerts(day.isoformat(), stats, domain="market") if stats else []
        # The controller runs at the day's close: it reads every complete day up to this one
        # (a signal whose next bar has not closed yet stays pending and counts on a later run).
        decision = run_controller(
            rollout,
            monitor,
            feature,
            now=midnight,
            policy=policy,
            notifiers=notifiers,
            health_window_days=health_window_days,
        )
        cumulative = decision.numbers.get("cumulative") or {}
        rows = decision.numbers.get("days") or []
        latest = rows[-1] if rows and rows[-1].get("date") == day.isoformat() else {}
        outcome = MarketDayOutcome(
            feature=feature,
            day=day.isoformat(),
            stage_before=stage_before,
            signals=len(positions),
            challenger_signals=served_by_challenger,
            accuracy=float(stats["accuracy"]) if stats and stats.get("total_signals") else math.nan,
            challenger_accuracy=group_value(cumulative, "challenger", "hit_rate_1st"),
            control_accuracy=group_value(cumulative, "control", "hit_rate_1st"),
            challenger_brier=1.0 - group_value(cumulative, "challenger", "avg_score_accuracy"),
            control_brier=1.0 - group_value(cumulative, "control", "avg_score_accuracy"),
            health=latest.get("health"),
            alerts=tuple(str(a.get("alert_type")) for a in alerts or [] if a.get("state") == "firing"),
            action=str(decision.action),
            stage_after=current_stage(rollout, feature),
            reasons=tuple(str(r) for r in decision.reasons),
            notifications=len(decision.numbers.get("notifications") or []),
        )
        results.append(outcome)
        if decision.action == "rollback" and rolled_back_at is None:
            rolled_back_at = index
        if on_day is not None:
            on_day(outcome)
    # Settle what is still open: each outcome is known at its next bar's close.
    for _, _, at in list(pending):
        clock(at.to_pydatetime())
        settle(at)
    return results
