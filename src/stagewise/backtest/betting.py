"""Bets on races: a model's strategy beside always-favourite, always-lane-1 and the oracle's EV bets.

Turns a race frame (one row per boat, with ``win_odds`` and a probability column) into a book of
races × outcomes and settles a :class:`~stagewise.metrics.betting.StakeStrategy` on it with
:func:`~stagewise.metrics.betting.summarize_bets`. A race is one unit per walk-forward step (a
race tested in two steps counts twice, like every pooled metric).

* **win**: six outcomes; a boat that did not start (F, L, 欠) is refunded.
* **trifecta**: 120 ordered outcomes; the model's probabilities are Harville's formula on its win
  probabilities, the odds the simulated public's trifecta pool
  (:func:`~stagewise.data.races.odds.trifecta_odds`) unless given (pass real ones for real
  races); a ticket with a boat that did not start is refunded; a race with fewer than three
  finishers has no winning ticket.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from stagewise._exceptions import ConfigError, DataValidationError
from stagewise.data.races.odds import PublicModel, harville_trifecta, trifecta_odds
from stagewise.metrics.betting import (
    BET_TYPES,
    TRIFECTA_INDEX,
    BettingResult,
    StakeStrategy,
    settle,
    summarize_bets,
)
from stagewise.metrics.races import DID_NOT_START

__all__ = ["RaceBook", "betting_section", "evaluate_race_bets", "race_book"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_LANES = 6


@dataclass(frozen=True)
class RaceBook:
    """Races × boats matrices (column ``k`` is pit ``k + 1``), one row per evaluated race."""

    days: npt.NDArray[np.datetime64]
    win_odds: FloatArray
    won: BoolArray
    started: BoolArray
    trifecta_winner: npt.NDArray[np.int64]  # column of TRIFECTAS, or -1
    probs: dict[str, FloatArray]

    @property
    def n_races(self) -> int:
        return len(self.days)


def race_book(frame: pd.DataFrame, prob_columns: tuple[str, ...] = ("win_prob",)) -> RaceBook:
    """Pivot one-row-per-boat races (optionally with a ``step`` column) into a :class:`RaceBook`.

    Raises
    ------
    DataValidationError
        A required column is missing; the message says how to get odds.
    """
    need = ["race_id", "race_date", "pit", "finish_position", "status", "win_odds", *prob_columns]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"Betting needs the column(s) {missing!r}. Odds come from the data set's 'win_odds' column "
            "(simulated races have it; your own data needs 'win_odds' and 'odds_snapshot_min')."
        )
    keys = ["step", "race_id"] if "step" in frame.columns else ["race_id"]
    codes, _ = pd.factorize(pd.MultiIndex.from_frame(frame[keys]))
    n = int(codes.max()) + 1 if len(codes) else 0
    lane = frame["pit"].to_numpy(dtype=np.int64) - 1

    def grid(values: np.ndarray, fill: float | bool) -> np.ndarray:
        out = np.full((n, _LANES), fill, dtype=bool if isinstance(fill, bool) else np.float64)
        out[codes, lane] = values
        return out

    finish = frame["finish_position"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    status = frame["status"].astype(str)
    started = grid(~status.isin(DID_NOT_START).to_numpy(), False)
    place = grid(finish, np.nan)
    days = np.empty(n, dtype="datetime64[D]")
    days[codes] = pd.to_datetime(frame["race_date"]).to_numpy().astype("datetime64[D]")
    ranked = np.where(np.isnan(place), 99.0, place)
    order = np.argsort(ranked, axis=1, kind="stable")[:, :3]
    top = np.take_along_axis(ranked, order, axis=1)
    flat = order[:, 0] * 36 + order[:, 1] * 6 + order[:, 2]
    position = np.full(_LANES**3, -1, dtype=np.int64)
    position[TRIFECTA_INDEX] = np.arange(len(TRIFECTA_INDEX))
    trifecta_winner = np.where((top == [[1.0, 2.0, 3.0]]).all(axis=1), position[flat], -1)
    probs = {c: grid(frame[c].to_numpy(dtype=np.float64), np.nan) for c in prob_columns}
    return RaceBook(
        days=days,
        win_odds=grid(frame["win_odds"].to_numpy(dtype=np.float64), np.nan),
        won=place == 1.0,
        started=started,
        trifecta_winner=trifecta_winner,
        probs=probs,
    )


def _oracle_trifecta(true_win: FloatArray) -> FloatArray:
    from stagewise.data.races.model import RaceModel
    from stagewise.data.races.outcome import trifecta_probabilities

    m = RaceModel()
    strength = np.log(np.clip(np.nan_to_num(true_win), 1e-300, None))
    out: FloatArray = trifecta_probabilities(strength, m.place_dispersion, m.inside_penalty).reshape(
        len(true_win), -1
    )[:, TRIFECTA_INDEX]
    return out


def evaluate_race_bets(
    frame: pd.DataFrame,
    strategy: StakeStrategy | str = "flat",
    bet_type: str = "win",
    prob_column: str = "win_prob",
    trifecta_odds_matrix: FloatArray | None = None,
    public: PublicModel | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, BettingResult]:
    """Settle ``strategy`` on the model's probabilities and the baselines on the same races.

    Returns ``{"model", "favourite", "lane_1"}`` and, when the frame has ``true_win_prob``
    (simulated data), ``"oracle_ev"``: the EV strategy (margin 0, the strategy's stake) on the
    true probabilities. The favourite is the outcome with the lowest odds; lane 1 is pit 1 to win,
    or 1-2-3.

    Examples
    --------
    >>> from stagewise.data import simulate_races
    >>> races = simulate_races("2025-01-01", "2025-01-31", seed=0, venues=[24])
    >>> out = evaluate_race_bets(races, "ev", prob_column="true_win_prob")
    >>> sorted(out)
    ['favourite', 'lane_1', 'model', 'oracle_ev']
    """
    rule = strategy if isinstance(strategy, StakeStrategy) else StakeStrategy(strategy)
    if bet_type not in BET_TYPES:
        raise ConfigError(
            f"The 'bet_type' parameter must be one of {list(BET_TYPES)!r}. Got {bet_type!r} instead."
        )
    columns = (prob_column, "true_win_prob") if "true_win_prob" in frame.columns else (prob_column,)
    book = race_book(frame, tuple(dict.fromkeys(columns)))
    n = book.n_races
    if bet_type == "win":
        odds, won, refunded = book.win_odds, book.won, ~book.started
        model_p = book.probs[prob_column]
        lane_1 = np.zeros((n, _LANES))
        lane_1[:, 0] = rule.stake
        oracle_p = book.probs.get("true_win_prob")
    else:
        if trifecta_odds_matrix is None:
            odds = trifecta_odds(book.win_odds, public)
        else:
            odds = np.asarray(trifecta_odds_matrix, dtype=np.float64)
            if odds.shape != (n, len(TRIFECTA_INDEX)):
                raise DataValidationError(
                    f"trifecta_odds_matrix must have shape ({n}, 120) (races × TRIFECTAS). Got {odds.shape}."
                )
        won = np.asarray(np.arange(len(TRIFECTA_INDEX))[None, :] == book.trifecta_winner[:, None])
        not_started = (~book.started).reshape(n, _LANES)
        tri = np.array([(i // 36, (i // 6) % 6, i % 6) for i in TRIFECTA_INDEX])
        refunded = np.asarray(not_started[:, tri].any(axis=2), dtype=bool)
        model_p = harville_trifecta(np.nan_to_num(book.probs[prob_column])).reshape(n, -1)[:, TRIFECTA_INDEX]
        lane_1 = np.zeros((n, len(TRIFECTA_INDEX)))
        lane_1[:, 0] = rule.stake
        true_win = book.probs.get("true_win_prob")
        oracle_p = _oracle_trifecta(true_win) if true_win is not None else None
    favourite = StakeStrategy("flat", stake=rule.stake).stakes(1.0 / odds, odds)
    stakes = {"model": rule.stakes(model_p, odds), "favourite": favourite, "lane_1": lane_1}
    if oracle_p is not None:
        stakes["oracle_ev"] = StakeStrategy("ev", stake=rule.stake).stakes(oracle_p, odds)
    days = np.repeat(book.days[:, None], odds.shape[1], axis=1).ravel()
    out: dict[str, BettingResult] = {}
    for name, stake in stakes.items():
        eff, profit = settle(stake, odds, won, refunded)
        bet = eff.ravel() > 0
        out[name] = summarize_bets(
            eff.ravel()[bet], profit.ravel()[bet], days[bet], name, n_resamples=n_resamples, seed=seed
        )
    return out


def betting_section(
    frame: pd.DataFrame,
    predictions: pd.DataFrame,
    strategy: StakeStrategy,
    bet_type: str,
    n_resamples: int,
    seed: int,
) -> dict[str, object]:
    """The ``betting`` part of a walk-forward result: the model's test predictions joined to the odds."""
    extra = [c for c in ("win_odds", "true_win_prob") if c in frame.columns]
    odds = frame[["race_id", "pit", *extra]]
    rows = predictions.drop(columns=[c for c in extra if c in predictions.columns]).merge(
        odds, on=["race_id", "pit"], how="left", validate="many_to_one"
    )
    results = evaluate_race_bets(rows, strategy, bet_type, "win_prob", n_resamples=n_resamples, seed=seed)
    return {
        "bet_type": bet_type,
        "strategy": {
            "name": strategy.name,
            "stake": strategy.stake,
            "margin": strategy.margin,
            "kelly_fraction": strategy.kelly_fraction,
            "kelly_cap": strategy.kelly_cap,
            "bankroll": strategy.bankroll,
        },
        "odds": "pre-close snapshot (odds_snapshot_min); trifecta odds from the simulated public"
        if bet_type == "trifecta"
        else "pre-close snapshot (odds_snapshot_min)",
        "results": {name: r.to_dict() for name, r in results.items()},
    }
