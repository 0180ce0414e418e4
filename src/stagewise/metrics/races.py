"""Per-race scoring: win hit, ordered trifecta, trio and score accuracy.

The non-finisher rule (named ``"did-not-start-removed, non-finishers-tied-last"``):

* ``F``, ``L`` and ``欠`` (flying, late start, absent) mean the boat never raced. It is
  removed from the race before scoring. A prediction that puts it first is a miss,
  never a skipped race.
* ``失 転 落 沈 妨 エ 不`` mean the boat started but did not finish. It ranks after every
  finisher; several such boats share those places (mid-rank ties).
* ``score_accuracy`` is ``(ρ + 1) / 2`` where ρ is Spearman's rank correlation (ties
  by mid-rank) between the predicted order and the actual order over the boats that
  started, so a random order scores 0.5 on average and a perfect one 1.0. A race with
  fewer than two starters, or where every starter shares one place, has no defined
  ρ: its ``score_accuracy`` is NaN and it is counted as such, not dropped.
* A race in which no boat finished first is *void*: it has no hit or miss.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from stagewise._exceptions import DataValidationError

__all__ = [
    "DID_NOT_START",
    "NON_FINISH_RULE",
    "NON_FINISH_STATUSES",
    "STARTED_NOT_FINISHED",
    "RaceScore",
    "score_race",
]

NON_FINISH_RULE = "did-not-start-removed, non-finishers-tied-last"
DID_NOT_START: frozenset[str] = frozenset({"F", "L", "欠"})
STARTED_NOT_FINISHED: frozenset[str] = frozenset({"失", "転", "落", "沈", "妨", "エ", "不"})
NON_FINISH_STATUSES: frozenset[str] = DID_NOT_START | STARTED_NOT_FINISHED


@dataclass(frozen=True, slots=True)
class RaceScore:
    """How one predicted order fared against one race result."""

    hit_1st: bool
    hit_top3: bool
    hit_trio: bool
    score_accuracy: float
    void: bool
    n_did_not_start: int
    n_not_finished: int


def _validate(predicted_order: Sequence[int], result: Mapping[int, int | str]) -> None:
    if len(set(predicted_order)) != len(predicted_order):
        raise DataValidationError(f"predicted_order must not repeat a pit; got {list(predicted_order)!r}.")
    unknown = [p for p in predicted_order if p not in result]
    if unknown:
        raise DataValidationError(
            f"predicted_order names pit(s) {unknown!r} that are not in the result "
            f"(pits in the result: {sorted(result)!r})."
        )
    ranks = [v for v in result.values() if not isinstance(v, str)]
    for pit, value in result.items():
        if isinstance(value, str):
            if value not in NON_FINISH_STATUSES:
                raise DataValidationError(
                    f"result for pit {pit} has status {value!r}; accepted statuses are "
                    f"{sorted(NON_FINISH_STATUSES)!r} or a finishing rank 1-6."
                )
        elif not 1 <= int(value) <= 6:
            raise DataValidationError(f"result for pit {pit} has rank {value!r}; a rank must be in 1-6.")
    if len(set(ranks)) != len(ranks):
        raise DataValidationError(f"result gives the same rank to two boats: {dict(result)!r}.")


def _mid_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.arange(1, len(values) + 1, dtype=float)
    for v in np.unique(values):
        tied = values == v
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def score_race(predicted_order: Sequence[int], result: Mapping[int, int | str]) -> RaceScore:
    """Score a predicted order (pits, best first) against a result (pit → rank or status).

    Examples
    --------
    >>> s = score_race([1, 2, 3, 4, 5, 6], {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6})
    >>> s.hit_1st, s.hit_top3, s.score_accuracy
    (True, True, 1.0)
    >>> score_race([4, 1, 2], {1: 1, 2: 2, 3: 3, 4: "F", 5: 4, 6: "転"}).hit_1st
    False
    """
    _validate(predicted_order, result)
    finish = {p: int(v) for p, v in result.items() if not isinstance(v, str)}
    n_dns = sum(1 for v in result.values() if isinstance(v, str) and v in DID_NOT_START)
    n_dnf = sum(1 for v in result.values() if isinstance(v, str) and v in STARTED_NOT_FINISHED)
    by_rank = {r: p for p, r in finish.items()}
    if 1 not in by_rank:
        return RaceScore(False, False, False, math.nan, True, n_dns, n_dnf)

    actual_top3 = [by_rank.get(r) for r in (1, 2, 3)]
    predicted_top3 = list(predicted_order[:3])
    hit_1st = predicted_order[0] == by_rank[1] if predicted_order else False
    complete_top3 = None not in actual_top3 and len(predicted_top3) == 3
    hit_top3 = complete_top3 and predicted_top3 == actual_top3
    hit_trio = complete_top3 and set(predicted_top3) == set(actual_top3)

    started = [p for p in predicted_order if not (isinstance(result[p], str) and result[p] in DID_NOT_START)]
    accuracy = math.nan
    if len(started) >= 2:
        last_place = len(started) + 1  # any value after every finisher
        actual = np.array(
            [float(finish[p]) if p in finish else float(last_place) for p in started], dtype=float
        )
        actual_ranks = _mid_ranks(actual)
        predicted_ranks = np.arange(1, len(started) + 1, dtype=float)
        if np.ptp(actual_ranks) > 0:
            rho = float(np.corrcoef(predicted_ranks, actual_ranks)[0, 1])
            accuracy = (rho + 1.0) / 2.0
    return RaceScore(bool(hit_1st), bool(hit_top3), bool(hit_trio), accuracy, False, n_dns, n_dnf)
