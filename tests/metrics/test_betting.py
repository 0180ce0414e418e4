"""Betting evaluation: strategies, settlement, ROI and drawdown with day-block intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise._exceptions import ConfigError
from stagewise.metrics.betting import TRIFECTAS, StakeStrategy, settle, summarize_bets


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"name": "martingale"},
            "'strategy' parameter must be one of ['flat', 'ev', 'kelly']. Got 'martingale'",
        ),
        (
            {"name": "kelly", "kelly_fraction": 0.0},
            "'kelly_fraction' parameter must be a number in (0, 1]. Got 0.0",
        ),
        (
            {"name": "kelly", "kelly_fraction": 1.5},
            "'kelly_fraction' parameter must be a number in (0, 1]. Got 1.5",
        ),
        ({"kelly_cap": -0.1}, "'kelly_cap' parameter must be a number in (0, 1]"),
        ({"stake": 0}, "'stake' parameter must be a number in (0, inf). Got 0"),
        ({"margin": -0.05}, "'margin' parameter must be a number in [0, inf). Got -0.05"),
        ({"bankroll": float("nan")}, "'bankroll' parameter must be a number in (0, inf). Got nan"),
    ],
    ids=[
        "unknown-name",
        "kelly-0",
        "kelly-above-1",
        "cap-negative",
        "stake-0",
        "margin-negative",
        "bankroll-nan",
    ],
)
def test_bad_strategy_settings_are_one_line_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StakeStrategy(**kwargs)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_flat_bets_the_top_pick_and_skips_races_without_odds() -> None:
    probs = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    odds = np.array([[4.0, 2.0, 3.0], [np.nan, 3.0, 8.0]])
    assert StakeStrategy("flat", stake=2.0).stakes(probs, odds).tolist() == [[0, 2, 0], [0, 2, 0]]


def test_ev_bets_every_outcome_above_the_margin() -> None:
    probs = np.array([[0.5, 0.3, 0.2]])
    odds = np.array([[2.1, 3.5, 5.5]])  # EV 1.05, 1.05, 1.10
    assert StakeStrategy("ev").stakes(probs, odds).tolist() == [[1, 1, 1]]
    assert StakeStrategy("ev", margin=0.07).stakes(probs, odds).tolist() == [[0, 0, 1]]


def test_kelly_stake_is_the_fraction_of_the_kelly_share_and_capped() -> None:
    probs = np.array([[0.5, 0.3, 0.2]])
    odds = np.array([[3.0, 2.0, 10.0]])
    stakes = StakeStrategy("kelly", kelly_fraction=0.5, kelly_cap=0.2, bankroll=100).stakes(probs, odds)
    # f* = (p·o − 1)/(o − 1): 0.25 for the first, none for the second, 1/9 for the third.
    np.testing.assert_allclose(stakes, [[12.5, 0.0, 100 * 0.5 / 9]])
    capped = StakeStrategy("kelly", kelly_fraction=1.0, kelly_cap=0.05, bankroll=100).stakes(probs, odds)
    np.testing.assert_allclose(capped, [[5.0, 0.0, 5.0]])


def test_settle_pays_winners_and_refunds_non_starters() -> None:
    stake = np.array([[1.0, 2.0, 1.0]])
    odds = np.array([[3.0, 5.0, 2.0]])
    won = np.array([[True, False, False]])
    refunded = np.array([[False, False, True]])
    eff, profit = settle(stake, odds, won, refunded)
    assert eff.tolist() == [[1.0, 2.0, 0.0]]
    assert profit.tolist() == [[2.0, -2.0, 0.0]]


def test_summary_by_hand() -> None:
    r = summarize_bets(
        [1, 1, 2, 1], [2.0, -1.0, -2.0, 0.5], ["2025-01-01", "2025-01-01", "2025-01-02", "2025-01-03"]
    )
    assert (r.n_bets, r.n_days) == (4, 3)
    assert r.total_stake == 5.0
    assert r.total_profit == pytest.approx(-0.5)
    assert r.roi == pytest.approx(-0.1)
    assert r.hit_rate == 0.5
    assert r.cumulative_profit == pytest.approx((1.0, -1.0, -0.5))
    assert r.max_drawdown == pytest.approx(2.0)
    assert r.roi_interval[0] <= r.roi <= r.roi_interval[1]
    assert r.days == ("2025-01-01", "2025-01-02", "2025-01-03")


def test_one_day_has_no_interval() -> None:
    r = summarize_bets([1, 1], [1.0, -1.0], ["d", "d"])
    assert r.roi == 0.0
    assert all(math.isnan(x) for x in r.roi_interval)


def test_a_fair_coin_at_even_odds_has_an_interval_around_zero() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    won = rng.random(n) < 0.5
    r = summarize_bets(np.ones(n), np.where(won, 1.0, -1.0), rng.integers(0, 200, n))
    assert r.roi_interval[0] < 0.0 < r.roi_interval[1]
    assert r.roi_interval[1] - r.roi_interval[0] < 0.05  # 2·1.96·1/sqrt(20000) ≈ 0.028


def test_the_trifecta_columns_are_the_120_ordered_finishes() -> None:
    assert len(TRIFECTAS) == 120 == len(set(TRIFECTAS))
    assert TRIFECTAS[0] == (1, 2, 3)
    assert TRIFECTAS[-1] == (6, 5, 4)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.01, 100), st.floats(-100, 1000), st.integers(0, 9)), min_size=1, max_size=60
    ),
    st.floats(0.1, 10),
)
def test_roi_is_profit_over_stake_and_scale_free(bets: list[tuple[float, float, int]], scale: float) -> None:
    stake, profit, day = (np.array(x) for x in zip(*bets, strict=True))
    r = summarize_bets(stake, profit, day)
    assert r.roi == pytest.approx(profit.sum() / stake.sum())
    assert r.max_drawdown >= 0.0
    scaled = summarize_bets(stake * scale, profit * scale, day)
    assert scaled.roi == pytest.approx(r.roi)
    assert scaled.max_drawdown == pytest.approx(r.max_drawdown * scale)
