"""Gaps in a bar series: missing bars on the data's own calendar.

The rule, in full (also in ``docs/data-markets.md``):

* **The step.** ``freq`` is the expected spacing of bars. Given as a pandas offset alias
  (``"1h"``, ``"1D"``, ``"ME"``), the next bar is expected at exactly ``t + freq`` and a step longer
  than that is a candidate gap. Left as ``None``, it is inferred as the median spacing of the
  data, and a step counts only when it is longer than ``1.5 ×`` that median, so that month-end
  bars (28 to 31 days apart) or a clock change do not look like gaps.
* **The session.** ``"continuous"`` markets (crypto) trade every day: every candidate is a gap.
  ``"weekdays"`` markets (FX, equities) close at the weekend: a candidate that spans a whole
  Saturday and lasts at most 4 days is a *weekend closure*, not a gap. That covers FX's Friday
  close to Sunday open and a weekend next to a one-day holiday (Good Friday, Christmas, a Monday
  holiday). ``"auto"`` picks ``"continuous"`` when any bar falls on a Saturday, else ``"weekdays"``.
* **The policy.** ``"error"`` raises with the first gap and the count, ``"allow"`` keeps the data
  as it is, ``"ffill"`` inserts the missing bars of each gap on the ``freq`` grid (weekdays only
  in a weekdays session) as flat bars: open = high = low = close = the previous close, volume 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset, Tick

from stagewise._exceptions import ConfigError, DataValidationError

__all__ = ["GAP_POLICIES", "SESSIONS", "GapPolicy", "GapReport", "Session", "fill_gaps", "find_gaps"]

GapPolicy = Literal["error", "allow", "ffill"]
Session = Literal["auto", "continuous", "weekdays"]
GAP_POLICIES: tuple[str, ...] = ("error", "allow", "ffill")
SESSIONS: tuple[str, ...] = ("auto", "continuous", "weekdays")

_INFERRED_SLACK = 1.5
_MAX_WEEKEND_CLOSURE = pd.Timedelta(days=4)
_SATURDAY = 5


@dataclass(frozen=True)
class GapReport:
    """What :func:`find_gaps` found.

    Attributes
    ----------
    freq : str
        The expected step: the alias given, or ``"<median> (inferred)"``.
    session : str
        ``"continuous"`` or ``"weekdays"`` (``"auto"`` resolved).
    n_gaps : int
        Steps longer than expected that are not weekend closures.
    n_weekend_closures : int
        Steps over a weekend that the session rule excuses.
    gaps : tuple of (Timestamp, Timestamp)
        Each gap as (last bar before it, first bar after it), in time order.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 04:00"])
    >>> report = find_gaps(idx, freq="1h", session="continuous")
    >>> report.n_gaps, report.gaps[0][1]
    (1, Timestamp('2024-01-01 04:00:00'))
    """

    freq: str
    session: str
    n_gaps: int
    n_weekend_closures: int
    gaps: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]

    def describe_first(self) -> str:
        """One sentence naming the first gap, or saying there is none."""
        if not self.gaps:
            return "no gaps"
        before, after = self.gaps[0]
        return (
            f"first gap between {before} and {after} ({after - before} apart, expected every {self.freq}, "
            f"session {self.session!r}); {self.n_gaps} gap(s) in total"
        )


def _check_choice(name: str, value: object, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise ConfigError(f"The {name!r} parameter must be one of {', '.join(accepted)}. Got {value!r}.")


def _resolve_session(index: pd.DatetimeIndex, session: str) -> str:
    _check_choice("session", session, SESSIONS)
    if session != "auto":
        return session
    return "continuous" if bool((index.day_of_week == _SATURDAY).any()) else "weekdays"


def _offset(freq: str | pd.Timedelta | None, index: pd.DatetimeIndex) -> tuple[BaseOffset | None, str]:
    """The expected step (None when there are fewer than two bars) and how to print it."""
    if freq is not None:
        try:
            offset = to_offset(freq)
        except ValueError as exc:
            raise ConfigError(
                "The 'freq' parameter must be a pandas offset alias such as '1h', '1D' or 'ME'. "
                f"Got {freq!r}."
            ) from exc
        return offset, str(freq)
    if len(index) < 2:
        return None, "n/a (fewer than 2 bars)"
    median = pd.Timedelta(np.median(np.diff(index.asi8))).as_unit("ns")
    return to_offset(median), f"{median} (inferred)"


def _candidate_mask(index: pd.DatetimeIndex, offset: BaseOffset, inferred: bool) -> np.ndarray:
    """True at step i (from index[i] to index[i+1]) when the step is longer than expected."""
    before, after = index[:-1], index[1:]
    if inferred:
        limit = pd.Timedelta(offset) * _INFERRED_SLACK  # type: ignore[arg-type]  # offset is a Tick here
        return np.asarray(after - before > limit)
    return np.asarray(after > before + offset)


def _weekend_closure_mask(index: pd.DatetimeIndex) -> np.ndarray:
    """True at step i when the step spans a whole Saturday and lasts at most 4 days."""
    before, after = index[:-1], index[1:]
    days_to_saturday = (_SATURDAY - before.day_of_week) % 7
    saturday = before.normalize() + pd.to_timedelta(np.asarray(days_to_saturday), unit="D")
    saturday = saturday.where(saturday > before, saturday + pd.Timedelta(days=7))
    spans_saturday = np.asarray(after >= saturday + pd.Timedelta(days=1))
    return spans_saturday & np.asarray(after - before <= _MAX_WEEKEND_CLOSURE)


def _steps(
    index: pd.DatetimeIndex, freq: str | pd.Timedelta | None, session: str
) -> tuple[BaseOffset | None, str, str, np.ndarray, np.ndarray]:
    resolved = _resolve_session(index, session)
    offset, label = _offset(freq, index)
    if offset is None or len(index) < 2:
        empty = np.zeros(0, dtype=bool)
        return offset, label, resolved, empty, empty
    candidates = _candidate_mask(index, offset, inferred=freq is None)
    closures = (
        candidates & _weekend_closure_mask(index) if resolved == "weekdays" else np.zeros_like(candidates)
    )
    return offset, label, resolved, candidates & ~closures, closures


def find_gaps(
    bars: pd.DataFrame | pd.DatetimeIndex, freq: str | pd.Timedelta | None = None, session: Session = "auto"
) -> GapReport:
    """Find the missing bars of a sorted, duplicate-free bar index (see the module docstring for the rule).

    Parameters
    ----------
    bars : DataFrame or DatetimeIndex
        Bars with a strictly increasing DatetimeIndex, or that index.
    freq : str or Timedelta, optional
        Expected step as a pandas offset alias; inferred from the median step when omitted.
    session : {"auto", "continuous", "weekdays"}
        Whether weekends are closed.

    Returns
    -------
    GapReport
    """
    index = bars.index if isinstance(bars, pd.DataFrame) else bars
    if not isinstance(index, pd.DatetimeIndex):
        raise DataValidationError(f"Bars need a DatetimeIndex named 'timestamp'. Got {type(index).__name__}.")
    _, label, resolved, gap_mask, closures = _steps(index, freq, session)
    positions = np.flatnonzero(gap_mask)
    gaps = tuple((index[int(i)], index[int(i) + 1]) for i in positions)
    return GapReport(label, resolved, len(gaps), int(closures.sum()), gaps)


def _grid_between(before: pd.Timestamp, after: pd.Timestamp, offset: BaseOffset) -> pd.DatetimeIndex:
    grid = pd.date_range(before, after, freq=offset, inclusive="neither")
    return grid[grid > before]


def _from_epoch_ns(values: np.ndarray, like: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Timestamps from nanoseconds since the epoch (UTC instants, as ``asi8`` gives), in ``like``'s zone."""
    naive = pd.DatetimeIndex(values.astype("datetime64[ns]"))
    return naive if like.tz is None else naive.tz_localize("UTC").tz_convert(like.tz)


def _missing_timestamps(
    index: pd.DatetimeIndex, offset: BaseOffset, positions: np.ndarray
) -> pd.DatetimeIndex:
    if isinstance(offset, Tick):
        # Vectorised: the grid points before + k*step strictly inside each gap.
        step = pd.Timedelta(offset).value
        starts = index.asi8[positions]
        spans = index.asi8[positions + 1] - starts
        counts = (spans - 1) // step
        first = np.repeat(np.cumsum(counts) - counts, counts)
        k = np.arange(int(counts.sum())) - first + 1
        values = np.repeat(starts, counts) + k * step
        return _from_epoch_ns(values, index)
    parts = [_grid_between(index[int(i)], index[int(i) + 1], offset).asi8 for i in positions]
    values = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return _from_epoch_ns(values, index)


def fill_gaps(
    bars: pd.DataFrame, freq: str | pd.Timedelta | None = None, session: Session = "auto"
) -> pd.DataFrame:
    """Insert flat bars (OHLC = previous close, volume 0) for every missing bar of every gap.

    Parameters
    ----------
    bars : DataFrame
        Valid bars in the canonical schema.
    freq, session
        As in :func:`find_gaps`.

    Returns
    -------
    DataFrame
        A new frame; the original rows are unchanged.
    """
    index = bars.index
    assert isinstance(index, pd.DatetimeIndex)
    offset, _, resolved, gap_mask, _ = _steps(index, freq, session)
    positions = np.flatnonzero(gap_mask)
    if offset is None or positions.size == 0:
        return bars.copy()
    missing = _missing_timestamps(index, offset, positions)
    if resolved == "weekdays":
        missing = missing[missing.day_of_week < _SATURDAY]
    combined = bars.reindex(index.append(missing).sort_values())
    previous_close = combined["close"].ffill()
    added = combined["close"].isna()
    for column in ("open", "high", "low", "close"):
        combined.loc[added, column] = previous_close[added]
    combined.loc[added, "volume"] = 0.0
    combined.index.name = "timestamp"
    return combined
