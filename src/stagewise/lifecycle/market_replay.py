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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stagewise.lifecycle.day_loop import controller_turn, current_stage, replay_loop, slots_as_json
from stagewise.lifecycle.day_loop import group_value as _group

if TYPE_CHECKING:
    from stagewise.lifecycle.scenario import ServedModel
    from stagewise.monitor import PerformanceMonitor
    from stagewise.notify import Notifier
    from stagewise.rollout import GradualRollout
    from stagewise.rollout.controller import ControllerPolicy

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
    """The rollout unit of a bar: ``"EURUSD:2017-10-19T09:00:00"`` (stable across runs and machines).

    Examples
    --------
    >>> unit_id("EURUSD", pd.Timestamp("2017-10-19 09:00"))
    'EURUSD:2017-10-19T09:00:00'
    """
    return f"{symbol}:{timestamp.isoformat()}"


class _Signals:
    """The bars' signals in flight: logged at each bar's close, settled when the next bar closes."""

    def __init__(self, live: pd.DataFrame, symbol: str, monitor: PerformanceMonitor) -> None:
        self.symbol, self.monitor = symbol, monitor
        self.outcomes = live["outcome"].to_numpy(dtype=np.int64)
        self.known_at = pd.DatetimeIndex(live["known_at"])
        self.pending: list[tuple[pd.Timestamp, int, pd.Timestamp]] = []

    def log(self, i: int, ts: pd.Timestamp, p: float, version: str, variant: str) -> None:
        self.monitor.log_signal(self.symbol, ts, int(p >= 0.5), p, model_version=version, variant=variant)
        self.pending.append((ts, int(self.outcomes[i]), self.known_at[i]))

    def settle(self, until: pd.Timestamp) -> None:
        while self.pending and self.pending[0][2] <= until:
            ts, outcome, _ = self.pending.pop(0)
            self.monitor.log_market_outcome(self.symbol, ts, outcome)

    def settle_all(self, clock: Callable[[datetime], None]) -> None:
        """Settle what is still open, each outcome when its next bar closes."""
        for _, _, at in list(self.pending):
            clock(at.to_pydatetime())
            self.settle(at)


def _days(stamps: pd.DatetimeIndex) -> Iterator[tuple[date, list[int]]]:
    days = stamps.normalize()
    for day_value in days.unique():
        yield day_value.date(), np.flatnonzero(days == day_value).tolist()


@dataclass(slots=True)
class _MarketDays:
    """Plays one market day: each bar at its close, then stats, alerts and the controller at midnight."""

    live: pd.DataFrame
    symbol: str
    rollout: GradualRollout
    monitor: PerformanceMonitor
    feature: str
    models: dict[str, ServedModel]
    proba: dict[str, np.ndarray]
    clock: Callable[[datetime], None]
    bar: timedelta
    policy: ControllerPolicy | None
    notifiers: Sequence[Notifier]
    health_window_days: int
    signals: _Signals = field(init=False)
    stamps: pd.DatetimeIndex = field(init=False)

    def __post_init__(self) -> None:
        self.signals = _Signals(self.live, self.symbol, self.monitor)
        self.stamps = pd.DatetimeIndex(self.live.index)

    def serve(self, positions: list[int]) -> int:
        """Settle, route and log each bar of the day at its close; the bars served by the challenger."""
        from stagewise.rollout.controller_runner import ON

        served_by_challenger = 0
        for i in positions:
            ts = self.stamps[i]
            closed = ts + self.bar
            self.clock(closed.to_pydatetime())
            self.signals.settle(closed)
            enabled = self.rollout.should_enable_feature(self.feature, unit_id(self.symbol, ts))
            who = "challenger" if enabled else "champion"
            version = self.models[who][0]
            self.signals.log(i, ts, float(self.proba[who][i]), version, ON if enabled else "control")
            served_by_challenger += int(enabled)
        return served_by_challenger

    def play(self, day: date, positions: list[int]) -> MarketDayOutcome:
        rollout, monitor, feature = self.rollout, self.monitor, self.feature
        stage_before = current_stage(rollout, feature)
        served_by_challenger = self.serve(positions)
        midnight = datetime.combine(day + timedelta(days=1), time(0, 0))
        self.clock(midnight)
        self.signals.settle(pd.Timestamp(midnight))
        stats = monitor.calculate_market_stats(day.isoformat())
        alerts = monitor.check_alerts(day.isoformat(), stats, domain="market") if stats else []
        # The controller runs at the day's close: it reads every complete day up to this one
        # (a signal whose next bar has not closed yet stays pending and counts on a later run).
        turn = controller_turn(
            rollout, monitor, feature, at=midnight, clock=self.clock, policy=self.policy,
            notifiers=self.notifiers, health_window_days=self.health_window_days,
        )  # fmt: skip
        rows = turn.decision.numbers.get("days") or []
        latest = rows[-1] if rows and rows[-1].get("date") == day.isoformat() else {}
        cumulative = turn.cumulative
        return MarketDayOutcome(
            feature=feature,
            day=day.isoformat(),
            stage_before=stage_before,
            signals=len(positions),
            challenger_signals=served_by_challenger,
            accuracy=float(stats["accuracy"]) if stats and stats.get("total_signals") else math.nan,
            challenger_accuracy=_group(cumulative, "challenger", "hit_rate_1st"),
            control_accuracy=_group(cumulative, "control", "hit_rate_1st"),
            challenger_brier=1.0 - _group(cumulative, "challenger", "avg_score_accuracy"),
            control_brier=1.0 - _group(cumulative, "control", "avg_score_accuracy"),
            health=latest.get("health"),
            alerts=tuple(str(a.get("alert_type")) for a in alerts or [] if a.get("state") == "firing"),
            action=turn.action,
            stage_after=turn.stage_after,
            reasons=turn.reasons,
            notifications=turn.notifications,
        )


def replay_market_days(
    live: pd.DataFrame,
    *,
    symbol: str,
    rollout: GradualRollout,
    monitor: PerformanceMonitor,
    feature: str,
    champion: ServedModel,
    challenger: ServedModel,
    feature_names: Sequence[str],
    clock: Callable[[datetime], None],
    bar: timedelta = timedelta(hours=1),
    policy: ControllerPolicy | None = None,
    notifiers: Sequence[Notifier] = (),
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
    matrix = live[list(feature_names)]  # named columns: the models check names and order
    # Both models score every bar (cheap, and what a shadow deployment would log); the rollout
    # decides whose signal is served and logged.
    proba = {
        "champion": champion[1].predict_proba(matrix)[:, 1],
        "challenger": challenger[1].predict_proba(matrix)[:, 1],
    }
    days = _MarketDays(
        live, symbol, rollout, monitor, feature, {"champion": champion, "challenger": challenger},
        proba, clock, bar, policy, notifiers, health_window_days,
    )  # fmt: skip
    results = replay_loop(
        _days(days.stamps), days.play, on_day=on_day, days_after_rollback=days_after_rollback
    )
    days.signals.settle_all(clock)
    return results
