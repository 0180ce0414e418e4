"""Money per unit in the ledger: the win bet a race prediction implies, a signal's net return (pure).

A client may log, with a race's prediction, the **win bet its top pick implies**: the decimal odds
of the pick's win ticket read before the close (``odds``; the final odds are a leak, see
``docs/money.md``) and the stake (``stake``, default 1). Nothing is derived from the outcome: once
the race is settled the ledger computes the profit per unit staked from those odds and the result,

* ``odds − 1`` when the pick won (odds of exactly 1.0 are accepted: 元返し, the stake back);
* ``−1`` when it started and did not win;
* none when the pick did not start (F, L, 欠: the ticket is refunded and leaves the turnover), when
  the race is void or pending, and when no odds were logged.

The mean profit per unit over a group's settled races is its ROI per race (flat stakes); the
controller's economic guardrail (:mod:`stagewise.rollout.economic`) compares it between groups.
For markets the realised net return of a signal after costs is logged with its outcome.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stagewise._exceptions import DataValidationError
from stagewise.metrics.races import DID_NOT_START

__all__ = ["Bet", "check_cost", "check_net_return", "parse_bet", "win_profit"]

Result = dict[int, int | str]


@dataclass(frozen=True, slots=True)
class Bet:
    """The win ticket on a prediction's top pick: stake and decimal odds (a pre-close snapshot)."""

    stake: float
    odds: float


def _where(row: int | None) -> str:
    return "" if row is None else f"row {row}: "


def _number(value: Any, field: str, rule: str, row: int | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataValidationError(f"{_where(row)}{field} must be {rule}; got {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise DataValidationError(f"{_where(row)}{field} must be {rule}; got {value!r}.")
    return number


def parse_bet(odds: Any, stake: Any, row: int | None = None) -> Bet | None:
    """The logged bet, or None when neither ``odds`` nor ``stake`` is given.

    Examples
    --------
    >>> parse_bet(3.5, None)
    Bet(stake=1.0, odds=3.5)
    >>> parse_bet(None, None) is None
    True
    """
    if odds is None and stake is None:
        return None
    if odds is None:
        raise DataValidationError(
            f"{_where(row)}stake needs odds: log the decimal odds of the top pick's win ticket with it; "
            f"got stake={stake!r} and no odds."
        )
    rule = "decimal odds, a finite number >= 1.0 (1.0: stake back, 元返し)"
    value = _number(odds, "odds", rule, row)
    if value < 1.0:
        raise DataValidationError(f"{_where(row)}odds must be {rule}; got {odds!r}.")
    staked = 1.0 if stake is None else _number(stake, "stake", "a finite number > 0", row)
    if staked <= 0.0:
        raise DataValidationError(f"{_where(row)}stake must be a finite number > 0; got {stake!r}.")
    return Bet(staked, value)


def win_profit(pits: Sequence[int], result: Result | None, odds: float | None) -> float | None:
    """Profit per unit staked of the win ticket on ``pits[0]``, or None (no bet, refunded, void, pending).

    Examples
    --------
    >>> win_profit([3, 1, 2], {3: 1, 1: 2, 2: 3}, 4.2)
    3.2
    >>> win_profit([3, 1, 2], {3: "F", 1: 1, 2: 2}, 4.2) is None   # flying start: refunded
    True
    """
    if odds is None or result is None or not pits or 1 not in result.values():
        return None
    finish = result.get(pits[0])
    if isinstance(finish, str) and finish in DID_NOT_START:
        return None
    return round(odds - 1.0, 10) if finish == 1 else -1.0


def check_net_return(value: Any, field: str = "net_return") -> float | None:
    """A realised return (a finite number, e.g. −0.0003), or None."""
    if value is None:
        return None
    return _number(value, field, "a finite number (a return, e.g. -0.0003)", None)


def check_cost(value: Any) -> float:
    """The cost of acting on one signal, in return units: a finite number >= 0."""
    number = _number(value, "cost", "a finite number >= 0 (return units, e.g. 0.0002)", None)
    if number < 0.0:
        raise DataValidationError(
            f"cost must be a finite number >= 0 (return units, e.g. 0.0002); got {value!r}."
        )
    return number
