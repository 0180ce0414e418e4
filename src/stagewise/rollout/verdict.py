"""The controller's decision as a verdict a progressive-delivery controller can act on.

Argo Rollouts and Flagger ask one question of an analysis step: go on, stop, or wait.
:func:`verdict_of` answers it from a :class:`~stagewise.rollout.controller.Decision` (pure: the
decision, and the feature's last stage move from the audit log, in; a :class:`Verdict` out):

==============================================================  ================
 the controller's decision                                       verdict
==============================================================  ================
 ``promote``                                                     ``success``
 ``hold`` at 100 % (fully rolled out), latest evaluated day      ``success``
 HEALTHY, no sample-ratio mismatch
 ``rollback``                                                    ``failure``
 ``none``: the kill switch is engaged                            ``failure``
 ``none``: disabled, and the last move to ``disabled`` was a     ``failure``
 controller rollback (it stays a failure until a person moves
 the stage again)
 any other ``hold`` or ``none``                                  ``inconclusive``
==============================================================  ================

``inconclusive`` means "not enough evidence yet": an Argo measurement that is neither success
nor failure, a Flagger gate that waits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from stagewise.rollout.controller import Decision

__all__ = ["VERDICTS", "Verdict", "last_stage_move", "verdict_of"]

VerdictName = Literal["success", "failure", "inconclusive"]
VERDICTS: tuple[VerdictName, ...] = ("success", "failure", "inconclusive")
_CONTROLLER = "stagewise-controller"


@dataclass(frozen=True)
class Verdict:
    """``verdict`` (one of :data:`VERDICTS`) and the reasons behind it, first the one that decided."""

    verdict: VerdictName
    reasons: tuple[str, ...]


def last_stage_move(audit: Sequence[Mapping[str, Any]], feature: str) -> Mapping[str, Any] | None:
    """The feature's latest audit entry that changed its stage (a kill included), or None."""
    for entry in reversed(audit):
        if entry.get("feature") == feature and entry.get("old_stage") != entry.get("new_stage"):
            return dict(entry)
    return None


def _fully_rolled_out_and_healthy(decision: Decision) -> bool:
    numbers = decision.numbers
    if decision.from_stage != "100%" or (numbers.get("srm") or {}).get("verdict") == "hold":
        return False
    evaluated = [d for d in numbers.get("days") or [] if d.get("evaluated")]
    return bool(evaluated) and evaluated[-1].get("health") == "HEALTHY"


def verdict_of(
    decision: Decision, *, killed: bool = False, last_move: Mapping[str, Any] | None = None
) -> Verdict:
    """The verdict of ``decision`` (see the module docstring for the table).

    ``killed`` is whether the kill switch is engaged; ``last_move`` the feature's latest stage
    move (:func:`last_stage_move`), read only when the feature is disabled.

    Examples
    --------
    >>> from stagewise.rollout.controller import Decision
    >>> d = Decision("calib", "promote", "10%", "50%", ("HEALTHY for 3 days",), {}, "2026-11-04T06:00")
    >>> verdict_of(d)
    Verdict(verdict='success', reasons=('HEALTHY for 3 days',))
    >>> verdict_of(Decision("calib", "hold", "10%", "10%", ("1 of 3 HEALTHY days",), {}, "")).verdict
    'inconclusive'
    """
    reasons = tuple(decision.reasons)
    if decision.action == "promote":
        return Verdict("success", reasons)
    if decision.action == "rollback":
        return Verdict("failure", reasons)
    if decision.action == "none":
        if killed:
            return Verdict("failure", reasons)
        details = (last_move or {}).get("details") or {}
        record = details.get("controller") if isinstance(details, Mapping) else None
        if (
            last_move is not None
            and last_move.get("new_stage") == "disabled"
            and last_move.get("actor") == _CONTROLLER
            and isinstance(record, Mapping)
            and record.get("action") == "rollback"
        ):
            why = [str(r) for r in record.get("reasons") or []]
            day = str(last_move.get("at", ""))[:10]
            return Verdict("failure", (f"rolled back by the controller on {day}", *why, *reasons))
        return Verdict("inconclusive", reasons)
    if _fully_rolled_out_and_healthy(decision):
        return Verdict("success", reasons)
    return Verdict("inconclusive", reasons)
