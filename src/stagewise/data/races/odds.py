"""Pre-race odds: a simulated betting public, pari-mutuel pools, and checks of users' own odds.

Kyotei bets are pari-mutuel: every stake on a bet type goes into one pool, the operator keeps the
takeout (25 % for every bet type, so the payout rate is 75 %), and the rest is shared among the
tickets that won. The decimal odds of an outcome are therefore ``payout_rate / share``, where
``share`` is the part of the pool staked on it. Nobody knows the final odds until betting closes,
so a backtest that bets at final odds uses information it could not have had: odds here are a
**snapshot taken** ``odds_snapshot_min`` **minutes before the close**, and the column is required
next to every odds column (see docs/money.md).

The simulated public is partly informed. It sees a noisy version of the true win probabilities
(log-normal noise, one draw per boat and race), and over-bets longshots (the favourite-longshot
bias): its win shares are proportional to ``(p · noise) ** longshot_bias`` with
``longshot_bias < 1``. It prices trifectas with the simulator's own finishing-order model on that
noisy belief, with the same bias (:func:`trifecta_odds`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stagewise._exceptions import ConfigError

__all__ = [
    "KYOTEI_PAYOUT_RATE",
    "MINIMUM_ODDS",
    "PublicModel",
    "harville_trifecta",
    "pool_odds",
    "public_win_shares",
    "trifecta_odds",
]

FloatArray = npt.NDArray[np.float64]

#: Share of each pool paid back to winning tickets (takeout 25 %, the published boat-race rate).
KYOTEI_PAYOUT_RATE = 0.75
#: Lowest odds a pool pays: a winning ticket always gets its stake back (元返し, "1.0 odds").
MINIMUM_ODDS = 1.0


@dataclass(frozen=True, slots=True)
class PublicModel:
    """How the simulated betting public forms the pre-race pools.

    Parameters
    ----------
    payout_rate : float, default 0.75
        Share of the pool paid back (1 − takeout); kyotei's is 0.75 for every bet type.
    noise_sd : float, default 0.25
        Standard deviation of the public's log-error on each boat's win probability.
    longshot_bias : float, default 0.95
        Exponent on the public's probabilities; below 1 the crowd over-bets longshots and
        under-bets favourites (the favourite-longshot bias), 1 means no bias.
    snapshot_minutes : int, default 5
        Minutes before the close at which the odds are read (``odds_snapshot_min``).

    Examples
    --------
    >>> PublicModel().payout_rate
    0.75
    >>> PublicModel(longshot_bias=0.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stagewise._exceptions.ConfigError: The 'longshot_bias' parameter must be a number in (0, 2]. Got 0.0...
    """

    payout_rate: float = KYOTEI_PAYOUT_RATE
    noise_sd: float = 0.25
    longshot_bias: float = 0.95
    snapshot_minutes: int = 5

    def __post_init__(self) -> None:
        _check_range("payout_rate", self.payout_rate, 0.0, 1.0, "(0, 1]")
        if not _finite(self.noise_sd) or self.noise_sd < 0:
            raise ConfigError(
                f"The 'noise_sd' parameter must be a number >= 0. Got {self.noise_sd!r} instead."
            )
        _check_range("longshot_bias", self.longshot_bias, 0.0, 2.0, "(0, 2]")
        minutes = self.snapshot_minutes
        if isinstance(minutes, bool) or not isinstance(minutes, int | np.integer) or minutes < 1:
            raise ConfigError(
                "The 'snapshot_minutes' parameter must be an int >= 1 (odds read before the close; "
                f"final odds are a leak). Got {minutes!r} instead."
            )


def _finite(value: object) -> bool:
    return (
        isinstance(value, int | float | np.floating) and not isinstance(value, bool) and math.isfinite(value)
    )


def _check_range(name: str, value: float, low: float, high: float, shown: str) -> None:
    if not _finite(value) or not low < value <= high:
        raise ConfigError(f"The '{name}' parameter must be a number in {shown}. Got {value!r} instead.")


def public_win_shares(true_win: FloatArray, noise: FloatArray, model: PublicModel) -> FloatArray:
    """Share of each race's win pool on each boat, ``(n, 6)``, rows summing to 1.

    ``noise`` holds standard normal draws of the same shape (the public's error on each boat).
    """
    p = np.clip(np.asarray(true_win, dtype=np.float64), 1e-12, None)
    log_view = model.longshot_bias * (np.log(p) + model.noise_sd * np.asarray(noise, dtype=np.float64))
    e = np.exp(log_view - log_view.max(axis=1, keepdims=True))
    shares: FloatArray = e / e.sum(axis=1, keepdims=True)
    return shares


def pool_odds(shares: FloatArray, payout_rate: float = KYOTEI_PAYOUT_RATE) -> FloatArray:
    """Decimal odds ``payout_rate / share``, never below :data:`MINIMUM_ODDS` (元返し)."""
    with np.errstate(divide="ignore"):
        odds: FloatArray = np.maximum(payout_rate / np.asarray(shares, dtype=np.float64), MINIMUM_ODDS)
    return odds


def harville_trifecta(win: FloatArray) -> FloatArray:
    """Harville's ordered-finish probabilities ``(n, 6, 6, 6)`` from win probabilities ``(n, 6)``.

    ``P(a, b, c) = w_a · w_b / (1 − w_a) · w_c / (1 − w_a − w_b)``; repeated boats get 0.
    """
    w = np.asarray(win, dtype=np.float64)
    w = w / w.sum(axis=1, keepdims=True)
    _n, k = w.shape
    eye = np.eye(k, dtype=bool)
    after_a = 1.0 - w[:, :, None]  # (n, a, 1)
    second = np.where(eye[None], 0.0, w[:, None, :] / np.maximum(after_a, 1e-300))  # (n, a, b)
    after_ab = 1.0 - w[:, :, None, None] - w[:, None, :, None]  # (n, a, b, 1)
    third = w[:, None, None, :] / np.maximum(after_ab, 1e-300)
    third = np.where(eye[None, None, :, :] | eye[None, :, None, :], 0.0, third)
    probs: FloatArray = w[:, :, None, None] * second[:, :, :, None] * third
    probs[:, np.arange(k), np.arange(k), :] = 0.0
    return probs


def trifecta_odds(win_odds: FloatArray, model: PublicModel | None = None) -> FloatArray:
    """The simulated public's trifecta odds ``(n, 120)`` from its win odds ``(n, 6)``.

    The public's (noisy) belief about the win is recovered from its win pool
    (``shares ** (1 / longshot_bias)``, normalised); it prices every ordered trifecta with the
    simulator's finishing-order model on that belief (so it knows how kyotei places go but keeps
    its error on each boat), and stakes ``(price) ** longshot_bias``, normalised, on each ticket.
    Columns follow :data:`stagewise.metrics.betting.TRIFECTAS` (1-2-3, 1-2-4, ..., 6-5-4).
    """
    from stagewise.data.races.model import RaceModel
    from stagewise.data.races.outcome import trifecta_probabilities
    from stagewise.metrics.betting import TRIFECTA_INDEX

    public = model if model is not None else PublicModel()
    odds = np.asarray(win_odds, dtype=np.float64)
    shares = np.where(np.isfinite(odds), public.payout_rate / odds, 0.0)
    with np.errstate(divide="ignore"):
        belief = np.log(np.clip(shares, 1e-300, None)) / public.longshot_bias
    m = RaceModel()
    priced = trifecta_probabilities(belief, m.place_dispersion, m.inside_penalty).reshape(len(odds), -1)
    stake = np.clip(priced[:, TRIFECTA_INDEX], 1e-300, None) ** public.longshot_bias
    return pool_odds(stake / stake.sum(axis=1, keepdims=True), public.payout_rate)
