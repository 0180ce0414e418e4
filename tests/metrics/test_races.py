from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from stagewise import DataValidationError
from stagewise.metrics import score_race

FULL = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6}


def test_perfect_prediction() -> None:
    s = score_race([1, 2, 3, 4, 5, 6], FULL)
    assert (s.hit_1st, s.hit_top3, s.hit_trio, s.score_accuracy) == (True, True, True, 1.0)


def test_trifecta_is_ordered_and_trio_is_not() -> None:
    s = score_race([2, 1, 3, 4, 5, 6], FULL)
    assert not s.hit_top3
    assert s.hit_trio
    assert not s.hit_1st


def test_reversed_order_scores_zero() -> None:
    assert score_race([6, 5, 4, 3, 2, 1], FULL).score_accuracy == pytest.approx(0.0)


def test_random_order_averages_one_half() -> None:
    # Exact mean over all 720 orders: the seed's 1 - sum|d|/5n gave 0.61 here.
    scores = [score_race(list(p), FULL).score_accuracy for p in itertools.permutations(range(1, 7))]
    assert np.mean(scores) == pytest.approx(0.5)


def test_agrees_with_scipy_spearman_with_ties() -> None:
    result = {1: 2, 2: 1, 3: "転", 4: 3, 5: "沈", 6: 4}
    order = [1, 2, 3, 4, 5, 6]
    actual = [2, 1, 5.5, 3, 5.5, 4]
    rho = spearmanr(range(6), actual).statistic
    assert score_race(order, result).score_accuracy == pytest.approx((rho + 1) / 2)


def test_did_not_start_is_removed_and_a_pick_of_it_is_a_miss() -> None:
    s = score_race([4, 1, 2, 3, 5, 6], {1: 1, 2: 2, 3: 3, 4: "F", 5: 4, 6: 5})
    assert not s.hit_1st
    assert s.n_did_not_start == 1
    assert s.score_accuracy == pytest.approx(1.0)


def test_race_without_winner_is_void() -> None:
    s = score_race([1, 2, 3], {1: "F", 2: "F", 3: "欠", 4: "F", 5: "L", 6: "F"})
    assert s.void
    assert math.isnan(s.score_accuracy)


@pytest.mark.parametrize(
    ("order", "result", "needle"),
    [
        ([1, 1, 2], FULL, "must not repeat"),
        ([7, 1, 2], FULL, "[7]"),
        ([1, 2, 3], {**FULL, 6: 7}, "rank 7"),
        ([1, 2, 3], {**FULL, 6: "X"}, "'X'"),
        ([1, 2, 3], {**FULL, 6: 1}, "same rank"),
    ],
    ids=["repeated-pit", "unknown-pit", "rank-7", "unknown-status", "two-winners"],
)
def test_bad_input_names_the_value(order: list[int], result: dict[int, int | str], needle: str) -> None:
    with pytest.raises(DataValidationError, match=__import__("re").escape(needle)):
        score_race(order, result)
