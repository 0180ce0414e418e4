"""Synthetic OHLCV bars for scale tests: GARCH(1,1) volatility clustering under Markov-switching regimes.

The model, per bar ``t`` (also in ``docs/data-markets.md``):

* a two-state regime ``s_t`` (0 calm, 1 turbulent) follows a Markov chain that stays put with
  probability ``regime_persistence[s]``; it is drawn as alternating geometric run lengths;
* a unit GARCH(1,1) variance ``h_t = (1 - a - b) + a * h_{t-1} * z_{t-1}^2 + b * h_{t-1}`` with
  standard normal shocks ``z``; it is a linear recurrence with random coefficients, solved in
  blocks with cumulative products so that no Python loop runs per bar;
* the log return ``r_t = regime_drift[s_t] + volatility * regime_volatility[s_t] * sqrt(h_t) * z_t``;
* the log price ``x_t = reversion * x_{t-1} + r_t`` (``x`` is the log of close / start_price);
  with the default ``reversion = 1 - 1e-5`` it pulls back towards the start price with a
  half-life of about 70,000 bars, so that millions of bars stay in a plausible price range
  (a pure random walk with regime drift wanders to 1e10 and beyond);
* ``close = start_price * exp(x)``, ``open`` = previous close, ``high``/``low`` extend the
  open-close body by half-normal wicks scaled by the bar's volatility, and ``volume`` is log-normal
  and rises with volatility. Every bar is valid OHLCV by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError
from stagewise.data.markets.schema import BAR_COLUMNS

__all__ = ["synthetic_bars"]

_BLOCK = 512  # bars per block of the GARCH solve: keeps cumulative products well inside float64 range


def _regimes(n: int, persistence: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """A two-state Markov chain of length n, drawn as alternating geometric run lengths."""
    first = int(rng.random() < (1 - persistence[0]) / (2 - persistence[0] - persistence[1]))
    mean_run = 0.5 * (1 / (1 - persistence[0]) + 1 / (1 - persistence[1]))
    states: list[np.ndarray] = []
    total = 0
    while total < n:
        runs = max(16, int(2 * (n - total) / mean_run) + 16)
        state_of_run = (first + np.arange(runs)) % 2
        lengths = rng.geometric(1 - np.asarray(persistence)[state_of_run])
        states.append(np.repeat(state_of_run.astype(np.int8), lengths))
        total += int(lengths.sum())
        first = int(1 - state_of_run[-1])
    return np.concatenate(states)[:n]


def _garch_blocks(coefficient: np.ndarray, omega: float, block_size: int) -> np.ndarray:
    n = coefficient.size
    padded = -(-n // block_size) * block_size
    flat = np.ones(padded)
    flat[:n] = coefficient
    a = flat.reshape(-1, block_size)
    # Inside a block: h_t = P_t * (h_start + omega * sum_{s<=t} 1/P_s), P_t = prod of a up to t.
    log_p = np.cumsum(np.log(a), axis=1)
    p = np.exp(log_p)
    inner = omega * np.cumsum(np.exp(-log_p), axis=1)
    h = np.empty_like(a)
    carry = 1.0 - omega  # so that h_0 = omega + a_0 * carry = 1 (a_0 = 1)
    for block in range(a.shape[0]):  # one step per block, not per bar
        h[block] = p[block] * (carry + inner[block])
        carry = h[block, -1]
    return h.reshape(-1)[:n]


def _garch_variance(z: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Unit-variance GARCH(1,1): h_t = w + (alpha z_{t-1}^2 + beta) h_{t-1}, h_0 = 1."""
    if alpha == 0 and beta == 0:
        return np.ones(z.size)
    coefficient = np.empty(z.size)
    coefficient[0] = 1.0
    coefficient[1:] = alpha * z[:-1] ** 2 + beta
    block_size = _BLOCK
    while block_size > 1:
        # Far from alpha + beta = 1 the products P_t leave float64's range within a block: shrink it.
        with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
            h = _garch_blocks(coefficient, 1.0 - alpha - beta, block_size)
        if np.isfinite(h).all() and (h > 0).all():
            return h
        block_size //= 4
    h = np.empty(z.size)
    h[0] = 1.0
    for t in range(1, z.size):  # pragma: no cover - only for near-degenerate parameters
        h[t] = (1.0 - alpha - beta) + coefficient[t] * h[t - 1]
    return h


def synthetic_bars(
    n: int,
    freq: str = "1h",
    seed: int = 0,
    *,
    start: str | pd.Timestamp = "2020-01-01",
    start_price: float = 100.0,
    volatility: float = 0.004,
    garch_alpha: float = 0.08,
    garch_beta: float = 0.90,
    regime_drift: tuple[float, float] = (0.0001, -0.0003),
    regime_volatility: tuple[float, float] = (0.8, 2.0),
    regime_persistence: tuple[float, float] = (0.995, 0.985),
    reversion: float = 1 - 1e-5,
) -> pd.DataFrame:
    """Generate ``n`` valid OHLCV bars with volatility clustering and regime changes.

    Vectorised: one million hourly bars take well under a second (see ``bench/``), five million a
    few seconds. The same ``seed`` gives the same bars. Bars are continuous (24/7, no weekend
    closures) on a regular ``freq`` grid from ``start``. The model is in the module docstring.

    Parameters
    ----------
    n : int
        Number of bars, >= 1.
    freq : str
        Bar spacing, a pandas offset alias such as ``"1min"``, ``"1h"`` or ``"1D"``.
    seed : int
        Seed of the NumPy generator.
    start : str or Timestamp
        Timestamp of the first bar.
    start_price : float
        Open of the first bar, > 0.
    volatility : float
        Base standard deviation of a log return per bar, > 0.
    garch_alpha, garch_beta : float
        GARCH(1,1) reaction and persistence, both >= 0 with ``alpha + beta < 1``.
    regime_drift : (float, float)
        Mean log return per bar in the calm and the turbulent regime (the defaults average to 0
        under the default persistence: 3/4 of bars are calm).
    regime_volatility : (float, float)
        Volatility multiplier in each regime, > 0.
    regime_persistence : (float, float)
        Probability of staying in each regime from one bar to the next, in (0, 1).
    reversion : float
        AR(1) coefficient of the log price, in (0, 1]; 1 gives a pure random walk.

    Returns
    -------
    DataFrame
        Bars in the canonical schema (index ``timestamp``, float64 open, high, low, close, volume).

    Examples
    --------
    >>> bars = synthetic_bars(1_000, freq="1h", seed=7)
    >>> bars.shape, bars.index.name
    ((1000, 5), 'timestamp')
    >>> bool((bars["high"] >= bars[["open", "close"]].max(axis=1)).all())
    True
    >>> synthetic_bars(1_000, seed=7).equals(bars)
    True
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"The 'n' parameter of synthetic_bars must be an int >= 1. Got {n!r}.")
    if not (garch_alpha >= 0 and garch_beta >= 0 and garch_alpha + garch_beta < 1):
        raise ConfigError(
            "The 'garch_alpha' and 'garch_beta' parameters must be >= 0 with a sum < 1. "
            f"Got alpha={garch_alpha!r}, beta={garch_beta!r}."
        )
    for name, value in (("start_price", start_price), ("volatility", volatility)):
        if not value > 0:
            raise ConfigError(f"The {name!r} parameter of synthetic_bars must be > 0. Got {value!r}.")
    if not all(0 < p < 1 for p in regime_persistence) or len(regime_persistence) != 2:
        raise ConfigError(
            "The 'regime_persistence' parameter must be two probabilities in (0, 1). "
            f"Got {regime_persistence!r}."
        )
    if not 0 < reversion <= 1:
        raise ConfigError(f"The 'reversion' parameter must be in (0, 1]. Got {reversion!r}.")
    if not all(v > 0 for v in regime_volatility) or len(regime_volatility) != 2:
        raise ConfigError(
            f"The 'regime_volatility' parameter must be two numbers > 0. Got {regime_volatility!r}."
        )
    try:
        index = pd.date_range(start=start, periods=int(n), freq=freq, name="timestamp", unit="ns")
    except pd.errors.OutOfBoundsDatetime as exc:
        raise ConfigError(
            f"{n} bars every {freq!r} from {start!r} would run past {pd.Timestamp.max.date()}, the last "
            "timestamp pandas holds in nanoseconds; use a shorter 'freq' (e.g. '1min') or fewer bars."
        ) from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"The 'freq' parameter must be a pandas offset alias such as '1h' or '1D' and 'start' a "
            f"timestamp. Got freq={freq!r}, start={start!r}."
        ) from exc

    rng = np.random.default_rng(seed)
    n = int(n)
    state = _regimes(n, (float(regime_persistence[0]), float(regime_persistence[1])), rng)
    z = rng.standard_normal(n)
    bar_sigma = volatility * np.asarray(regime_volatility, dtype=float)[state]
    bar_sigma *= np.sqrt(_garch_variance(z, garch_alpha, garch_beta))
    log_return = np.asarray(regime_drift, dtype=float)[state] + bar_sigma * z
    from scipy.signal import lfilter  # imported here: scipy.signal is slow to import

    log_price = lfilter([1.0], [1.0, -reversion], log_return) if reversion < 1 else np.cumsum(log_return)
    close = start_price * np.exp(log_price)
    open_ = np.empty(n)
    open_[0] = start_price
    open_[1:] = close[:-1]
    wicks = np.abs(rng.standard_normal((2, n))) * (0.5 * bar_sigma)
    high = np.maximum(open_, close) * np.exp(wicks[0])
    low = np.minimum(open_, close) * np.exp(-wicks[1])
    volume = 1_000.0 * np.exp(np.log(bar_sigma / volatility) + 0.4 * rng.standard_normal(n))
    columns = dict(zip(BAR_COLUMNS, (open_, high, low, close, volume), strict=True))
    return pd.DataFrame(columns, index=index)
