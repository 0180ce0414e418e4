"""What every replayed day shares, whatever the domain: the controller's turn and the loop over days.

A domain's replay (:mod:`~stagewise.lifecycle.replay` for races,
:mod:`~stagewise.lifecycle.market_replay` for bars) plays one day — serve, log, settle, stats —
and hands the rest here: :func:`controller_turn` sets the clock, runs the controller and reads
back what changed; :func:`replay_loop` walks the days and stops ``k`` days after a rollback.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from stagewise.monitor import PerformanceMonitor
    from stagewise.notify import Notifier
    from stagewise.rollout import GradualRollout
    from stagewise.rollout.controller import ControllerPolicy, Decision

__all__ = [
    "ControllerTurn",
    "Replayed",
    "controller_turn",
    "current_stage",
    "group_value",
    "replay_loop",
    "slots_as_json",
]


class Replayed(Protocol):
    """What the loop needs of a day's outcome: the controller's action on it."""

    @property
    def action(self) -> str: ...


OutcomeT = TypeVar("OutcomeT", bound=Replayed)
FrameT = TypeVar("FrameT")


def slots_as_json(outcome: Any) -> dict[str, Any]:
    """A slotted day record as plain JSON: NaN becomes None, tuples become lists."""
    out: dict[str, Any] = {}
    for name in outcome.__slots__:
        value = getattr(outcome, name)
        if isinstance(value, float) and math.isnan(value):
            value = None
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


def group_value(cumulative: dict[str, Any], group: str, key: str) -> float:
    """One group's cumulative figure from the controller's numbers (NaN when it has none yet).

    Examples
    --------
    >>> group_value({"control": {"hit_rate_1st": 0.25}}, "control", "hit_rate_1st")
    0.25
    >>> group_value({}, "challenger", "hit_rate_1st")
    nan
    """
    value = (cumulative.get(group) or {}).get(key)
    return math.nan if value is None else float(value)


def current_stage(rollout: GradualRollout, feature: str) -> str:
    """The feature's stage as the rollout reports it now."""
    return str(rollout.get_rollout_status()["feature_rollouts"][feature]["stage"])


@dataclass(frozen=True, slots=True)
class ControllerTurn:
    """The controller's decision on a day, and the fields every day record takes from it."""

    decision: Decision
    stage_after: str

    @property
    def action(self) -> str:
        return str(self.decision.action)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(str(r) for r in self.decision.reasons)

    @property
    def notifications(self) -> int:
        return len(self.decision.numbers.get("notifications") or [])

    @property
    def cumulative(self) -> dict[str, Any]:
        return dict(self.decision.numbers.get("cumulative") or {})


def controller_turn(
    rollout: GradualRollout,
    monitor: PerformanceMonitor,
    feature: str,
    *,
    at: datetime,
    clock: Callable[[datetime], None],
    notifiers: Sequence[Notifier],
    health_window_days: int,
    policy: ControllerPolicy | None = None,
) -> ControllerTurn:
    """Set the clock to ``at``, run the controller (it applies, notifies and audits), read the new stage."""
    from stagewise.rollout.controller_runner import run_controller

    clock(at)
    decision = run_controller(
        rollout,
        monitor,
        feature,
        now=at,
        policy=policy,
        notifiers=notifiers,
        health_window_days=health_window_days,
    )
    return ControllerTurn(decision, current_stage(rollout, feature))


def replay_loop(
    days: Iterable[tuple[date, FrameT]],
    play: Callable[[date, FrameT], OutcomeT],
    *,
    on_day: Callable[[OutcomeT], None] | None = None,
    days_after_rollback: int | None = None,
) -> list[OutcomeT]:
    """``play`` each day in order; with ``days_after_rollback=k`` stop ``k`` days after the first rollback.

    Examples
    --------
    >>> from types import SimpleNamespace as Day
    >>> actions = ["hold", "rollback", "hold", "hold", "hold"]
    >>> days = [(date(2025, 1, d + 1), a) for d, a in enumerate(actions)]
    >>> played = replay_loop(days, lambda day, a: Day(day=day, action=a), days_after_rollback=1)
    >>> [d.action for d in played]
    ['hold', 'rollback', 'hold']
    """
    outcomes: list[OutcomeT] = []
    rolled_back_at: int | None = None
    for index, (day, frame) in enumerate(days):
        after = None if rolled_back_at is None else index - rolled_back_at
        if after is not None and days_after_rollback is not None and after > days_after_rollback:
            break
        outcome = play(day, frame)
        outcomes.append(outcome)
        if outcome.action == "rollback" and rolled_back_at is None:
            rolled_back_at = index
        if on_day is not None:
            on_day(outcome)
    return outcomes
