"""Bets on a simulated year: the always-favourite and oracle numbers the simulator implies.

The analytic value of a strategy is its expected ROI given the snapshot odds: a unit on boat
``i`` returns ``odds_i`` with probability ``p_i`` (``true_win_prob``), is refunded when the boat
does not start (probability ``r_i`` from the simulator's F / L / 欠 rates), and is lost otherwise,
so ``E[ROI] = Σ (p_i · odds_i − (1 − r_i)) / Σ (1 − r_i)`` over the strategy's bets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stagewise._exceptions import ConfigError, DataValidationError
from stagewise.backtest.betting import evaluate_race_bets
from stagewise.data import simulate_races
from stagewise.data.races.model import DNS_RATES, RaceModel


@pytest.fixture(scope="module")
def year() -> pd.DataFrame:
    return simulate_races("2025-01-01", "2025-12-31", seed=0)


def _analytic_roi(races: pd.DataFrame, chosen: np.ndarray) -> float:
    p = races["true_win_prob"].to_numpy().reshape(-1, 6)
    odds = races["win_odds"].to_numpy().reshape(-1, 6)
    timing = races["avg_start_timing"].to_numpy().reshape(-1, 6)
    gain = RaceModel().flying_start_gain
    refund = DNS_RATES["F"] * np.exp(gain * (0.16 - timing) / 0.02) + DNS_RATES["L"] + DNS_RATES["欠"]
    return float((p * odds - (1 - refund))[chosen].sum() / (1 - refund)[chosen].sum())


def test_always_favourite_loses_about_the_takeout(year: pd.DataFrame) -> None:
    result = evaluate_race_bets(year, "flat", prob_column="true_win_prob")["favourite"]
    odds = year["win_odds"].to_numpy().reshape(-1, 6)
    chosen = np.zeros(odds.shape, dtype=bool)
    chosen[np.arange(len(odds)), odds.argmin(axis=1)] = True
    analytic = _analytic_roi(year, chosen)
    assert -0.25 < analytic < -0.20  # 25 % takeout, less the favourite-longshot bias
    assert result.roi_interval[0] <= analytic <= result.roi_interval[1]
    assert result.roi_interval[1] < -0.15
    assert result.n_bets > 49_000


def test_oracle_ev_beats_the_noisy_public_by_what_the_simulator_implies(year: pd.DataFrame) -> None:
    result = evaluate_race_bets(year, "flat", prob_column="true_win_prob")["oracle_ev"]
    p = year["true_win_prob"].to_numpy().reshape(-1, 6)
    odds = year["win_odds"].to_numpy().reshape(-1, 6)
    analytic = _analytic_roi(year, p * odds > 1.0)
    assert analytic > 0.10
    assert result.roi_interval[0] <= analytic <= result.roi_interval[1]
    assert result.roi_interval[0] > 0.0


def test_model_bets_follow_the_strategy_and_the_baselines_share_races(year: pd.DataFrame) -> None:
    january = year[year["race_date"] < "2025-02-01"]
    out = evaluate_race_bets(january, "ev", prob_column="true_win_prob")
    assert out["model"].roi == out["oracle_ev"].roi  # the oracle's probabilities as the model
    n_races = january["race_id"].nunique()
    n_not_started = int(january["status"].isin(["F", "L", "欠"]).sum())
    for baseline in ("lane_1", "favourite"):  # one bet a race, bar refunds
        assert n_races - n_not_started <= out[baseline].n_bets <= n_races
    curve = out["favourite"].cumulative_profit
    assert curve[-1] == pytest.approx(out["favourite"].total_profit)


def test_trifecta_lane_1_hits_the_1_2_3_rate(year: pd.DataFrame) -> None:
    out = evaluate_race_bets(year, "flat", bet_type="trifecta", prob_column="true_win_prob", n_resamples=200)
    top = year[year["finish_position"].le(3)].sort_values(["race_id", "finish_position"])
    ordered = top.groupby("race_id")["pit"].apply(tuple)
    rate_123 = float((ordered == (1, 2, 3)).mean())
    assert out["lane_1"].hit_rate == pytest.approx(rate_123, abs=0.002)
    assert out["favourite"].roi_interval[0] < -0.15  # the takeout again


def test_kelly_never_stakes_above_the_cap(year: pd.DataFrame) -> None:
    january = year[year["race_date"] < "2025-02-01"]
    from stagewise.metrics.betting import StakeStrategy

    rule = StakeStrategy("kelly", kelly_fraction=1.0, kelly_cap=0.02, bankroll=100)
    result = evaluate_race_bets(january, rule, prob_column="true_win_prob")["model"]
    assert 0 < result.total_stake <= 2.0 * result.n_bets


def test_bad_bet_type_and_missing_odds(year: pd.DataFrame) -> None:
    day = year[year["race_date"] == "2025-01-01"]
    with pytest.raises(ConfigError, match="'bet_type' parameter must be one of \\['win', 'trifecta'\\]"):
        evaluate_race_bets(day, "flat", bet_type="place", prob_column="true_win_prob")
    with pytest.raises(DataValidationError, match="'win_odds'"):
        evaluate_race_bets(day.drop(columns="win_odds"), "flat", prob_column="true_win_prob")
