"""The finishing-order model of the race simulator, and its exact probabilities (the oracle).

Pure numpy, one race per row, lanes in columns (column ``k`` is pit ``k + 1``).

The model, in three stages:

1. **Start.** Boat ``i`` starts with probability ``start_prob[i]``; otherwise it is a flying
   start, a late start or absent (decided by the caller). Non-starters take no place.
2. **Win.** The winner among the starters is a softmax (Plackett–Luce first stage) of the
   win strengths ``s``: ``P(i wins | starters) = exp(s_i) / sum_j exp(s_j)``.
3. **Minor places.** Places 2, 3, ... are a Plackett–Luce draw among the remaining starters on
   *place* utilities ``t_j = dispersion * s_j - inside_penalty * [pit_j < pit_winner]``. A
   ``dispersion`` below 1 makes second and third more open than the win; the penalty makes
   the boats inside an outside winner (the ones it turned over at the first mark) less
   likely to place. Plain Plackett–Luce is ``dispersion=1, inside_penalty=0``.

Because the winner is an exact softmax, :func:`win_probabilities` is exact, including the
marginalisation over which boats start (all 64 start patterns are enumerated).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "place_utilities",
    "sample_finish_order",
    "trifecta_probabilities",
    "win_probabilities",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

N_LANES = 6
# Every subset of the six boats as a start pattern: _PATTERNS[m, i] is True when boat i starts.
_PATTERNS: BoolArray = ((np.arange(64)[:, None] >> np.arange(N_LANES)[None, :]) & 1).astype(bool)
_INSIDE: BoolArray = np.arange(N_LANES)[None, :] < np.arange(N_LANES)[:, None]  # [winner, j]: j inside


def _softmax_rows(x: FloatArray) -> FloatArray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    out: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return out


def win_probabilities(strength: FloatArray, start_prob: FloatArray, chunk: int = 8192) -> FloatArray:
    """Exact probability that each boat wins, before anyone knows who starts.

    ``P(i wins) = sum over start patterns S containing i of P(S) * softmax_S(s)_i``, with
    boats starting independently. The result is renormalised by ``1 - P(no boat starts)``
    (below 1e-12 at realistic rates) so that each row sums to 1.
    """
    n = strength.shape[0]
    out = np.empty((n, N_LANES), dtype=np.float64)
    starts = _PATTERNS[None, :, :]
    for lo in range(0, n, chunk):
        s = strength[lo : lo + chunk]
        p = start_prob[lo : lo + chunk]
        e = np.exp(s - s.max(axis=1, keepdims=True))[:, None, :]  # (c, 1, 6)
        pattern_prob = np.where(starts, p[:, None, :], 1.0 - p[:, None, :]).prod(axis=2)  # (c, 64)
        numer = np.where(starts, e, 0.0)  # (c, 64, 6)
        denom = numer.sum(axis=2, keepdims=True)
        share = np.divide(numer, denom, out=np.zeros_like(numer), where=denom > 0)
        win = (pattern_prob[:, :, None] * share).sum(axis=1)
        out[lo : lo + chunk] = win / win.sum(axis=1, keepdims=True)
    return out


def place_utilities(
    strength: FloatArray, winner: IntArray, dispersion: float, inside_penalty: float
) -> FloatArray:
    """Utilities of the minor places given the winner's lane index (0-5) in each race."""
    inside = _INSIDE[winner]  # (n, 6)
    out: FloatArray = dispersion * strength - inside_penalty * inside
    return out


def trifecta_probabilities(strength: FloatArray, dispersion: float, inside_penalty: float) -> FloatArray:
    """``P[a, b, c]`` of the ordered trifecta a-b-c (lane indices) when all six boats finish.

    Shape ``(n, 6, 6, 6)``; entries with a repeated boat are 0; each race sums to 1.
    """
    n = strength.shape[0]
    win = _softmax_rows(strength)  # (n, 6)
    # Place utilities for every possible winner a: (n, a, j).
    t = dispersion * strength[:, None, :] - inside_penalty * _INSIDE[None, :, :]
    e = np.exp(t - t.max(axis=2, keepdims=True))
    eye = np.eye(N_LANES, dtype=bool)
    e_excl = np.where(eye[None, :, :], 0.0, e)  # winner a cannot place again
    total = e_excl.sum(axis=2, keepdims=True)  # (n, a, 1)
    second = e_excl / total  # (n, a, b)
    # Third among the rest: e_c / (total - e_b), c not in {a, b}.
    rest = total[:, :, :, None] - e_excl[:, :, :, None]  # (n, a, b, 1)
    third = e_excl[:, :, None, :] / rest  # (n, a, b, c)
    third = np.where(eye[None, None, :, :], 0.0, third)  # c != b
    third = np.where(eye[None, :, None, :], 0.0, third)  # c != a (already 0 via e_excl)
    probs: FloatArray = win[:, :, None, None] * second[:, :, :, None] * third
    probs[:, np.arange(N_LANES), np.arange(N_LANES), :] = 0.0
    return probs.reshape(n, N_LANES, N_LANES, N_LANES)


def sample_finish_order(
    strength: FloatArray,
    starts: BoolArray,
    win_noise: FloatArray,
    place_noise: FloatArray,
    dispersion: float,
    inside_penalty: float,
) -> IntArray:
    """Lane indices in finishing order, non-starters last (they take no place).

    ``win_noise`` and ``place_noise`` are standard Gumbel draws of shape ``(n, 6)``: the
    argmax of ``s + gumbel`` is an exact softmax draw, and sorting ``t + gumbel`` an exact
    Plackett–Luce draw. Races where no boat starts get an arbitrary order; callers mark
    every boat of such a race as a non-starter.
    """
    n = strength.shape[0]
    win_key = np.where(starts, strength + win_noise, -np.inf)
    winner = win_key.argmax(axis=1)
    t = place_utilities(strength, winner, dispersion, inside_penalty)
    key = np.where(starts, t + place_noise, -np.inf)
    key[np.arange(n), winner] = np.inf
    order: IntArray = np.argsort(-key, axis=1, kind="stable").astype(np.int64)
    return order
