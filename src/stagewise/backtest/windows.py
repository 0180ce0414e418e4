"""Walk-forward windows: a pure splitter that yields index positions.

The rules (SPEC §2.5, the seed's ``run_walkforward`` contract):

* Windows are whole days. A row belongs to the day of its timestamp (a race has one date,
  so one race is never split between windows).
* The evaluation period is ``[start_date, end_date]``, both days included. The first test
  window starts at ``start_date``; each next one starts ``step_days`` later; a step is made
  while its test start is before the end of the period (the seed's example, 2025-11-01 to
  2025-11-17 with 14/3/3, gives 6 steps).
* Training uses the ``train_days`` days that end ``gap_days`` before the test start
  (``window="rolling"``), or every row before that point (``window="expanding"``).
* **Last-window rule**: a test window that would run past ``end_date`` is truncated at the
  end of ``end_date`` and flagged ``partial=True``; ``last_window="drop"`` drops it instead.
* **Purging**: with ``label_horizon`` the label of a row at ``t`` covers ``(t, t + h]``; a
  training row whose label period reaches the test window is dropped (counted in
  ``n_purged``). ``h`` is an int (that many rows later, for bars) or a timedelta.

The splitter never copies or prints data; it yields :class:`WalkForwardSplit` objects
holding sorted integer positions into the input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Required, TypedDict, Unpack

import numpy as np
import pandas as pd

from stagewise._dates import DateLike
from stagewise._exceptions import ConfigError, DataValidationError

__all__ = ["WINDOW_KINDS", "WalkForwardSplit", "WindowParams", "plan_windows", "walk_forward_windows"]


class WindowParams(TypedDict, total=False):
    """The keyword arguments of :func:`walk_forward_windows` after the timestamps (what a plan needs)."""

    start_date: Required[DateLike]
    end_date: Required[DateLike]
    train_days: Required[int]
    test_days: Required[int]
    step_days: Required[int]
    gap_days: int
    window: Literal["rolling", "expanding"]
    label_horizon: int | dt.timedelta | np.timedelta64 | None
    min_train_rows: int
    last_window: Literal["truncate", "drop"]


WINDOW_KINDS = ("rolling", "expanding")
LAST_WINDOW_RULES = ("truncate", "drop")
_DAY = 86_400 * 10**9  # nanoseconds
_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True, slots=True)
class WalkForwardSplit:
    """One step of a walk-forward: positions of its training and test rows and its dates.

    ``train_start``/``train_end`` and ``test_start``/``test_end`` are half-open day bounds
    (``end`` excluded). ``partial`` marks a test window cut short at ``end_date``.
    """

    step: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    train: np.ndarray
    test: np.ndarray
    partial: bool
    n_purged: int

    def keeping(self, usable: np.ndarray) -> WalkForwardSplit:
        """The same step with only the rows whose ``usable`` flag (indexed by position) is set."""
        return replace(self, train=self.train[usable[self.train]], test=self.test[usable[self.test]])


def _int_param(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"The {name!r} parameter must be an int >= {minimum}. Got {value!r} instead.")
    return int(value)


def _day(name: str, value: Any) -> int:
    """Midnight of the day ``value`` names, in nanoseconds since the epoch."""
    try:
        ts = pd.Timestamp(value)
        valid = not pd.isna(ts)
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ConfigError(
            f"The {name!r} parameter must be a date such as '2025-11-01'. Got {value!r} instead."
        )
    if ts.tzinfo is not None:
        ts = ts.tz_convert(None)
    return int(ts.normalize().value)


def _validate(
    start_date: Any,
    end_date: Any,
    train_days: Any,
    test_days: Any,
    step_days: Any,
    gap_days: Any,
    window: Any,
    label_horizon: Any,
    min_train_rows: Any,
    last_window: Any,
) -> tuple[int, int, int, int, int, int, tuple[str, int] | None]:
    start = _day("start_date", start_date)
    end = _day("end_date", end_date)
    if end < start:
        raise ConfigError(
            f"The 'end_date' parameter must not be before start_date ({_date(start)}). "
            f"Got {_date(end)} instead."
        )
    train = _int_param("train_days", train_days, 1)
    test = _int_param("test_days", test_days, 1)
    step = _int_param("step_days", step_days, 1)
    gap = _int_param("gap_days", gap_days, 0)
    _int_param("min_train_rows", min_train_rows, 0)
    if window not in WINDOW_KINDS:
        raise ConfigError(
            f"The 'window' parameter must be one of {list(WINDOW_KINDS)}. Got {window!r} instead."
        )
    if last_window not in LAST_WINDOW_RULES:
        raise ConfigError(
            f"The 'last_window' parameter must be one of {list(LAST_WINDOW_RULES)}. "
            f"Got {last_window!r} instead."
        )
    horizon: tuple[str, int] | None
    if label_horizon is None:
        horizon = None
    elif isinstance(label_horizon, int | np.integer) and not isinstance(label_horizon, bool):
        horizon = ("rows", _int_param("label_horizon", label_horizon, 1))
    elif (
        isinstance(label_horizon, dt.timedelta | np.timedelta64 | pd.Timedelta)
        and pd.Timedelta(label_horizon).value > 0
    ):
        horizon = ("ns", int(pd.Timedelta(label_horizon).value))
    else:
        raise ConfigError(
            "The 'label_horizon' parameter must be None, an int >= 1 (rows) or a positive timedelta. "
            f"Got {label_horizon!r} instead."
        )
    return start, end, train, test, step, gap, horizon


def _date(ns: int) -> str:
    return str(pd.Timestamp(ns).date())


def _as_nanoseconds(timestamps: Any) -> np.ndarray:
    """The input as int64 nanoseconds since the epoch (naive UTC wall time); no copy kept."""
    try:
        index = pd.DatetimeIndex(timestamps)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(
            f"timestamps_or_dates must hold dates or timestamps; could not read them ({exc})."
        ) from None
    if index.tz is not None:
        index = index.tz_convert(None)
    if index.hasnans:
        first = int(np.flatnonzero(index.isna())[0])
        raise DataValidationError(f"timestamps_or_dates has a missing value at position {first}.")
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


def walk_forward_windows(
    timestamps_or_dates: Sequence[Any] | np.ndarray | pd.Series | pd.Index,
    start_date: DateLike,
    end_date: DateLike,
    train_days: int,
    test_days: int,
    step_days: int,
    gap_days: int = 0,
    window: Literal["rolling", "expanding"] = "rolling",
    label_horizon: int | dt.timedelta | np.timedelta64 | None = None,
    min_train_rows: int = 1,
    last_window: Literal["truncate", "drop"] = "truncate",
) -> Iterator[WalkForwardSplit]:
    """Yield the walk-forward steps over ``timestamps_or_dates`` as index positions.

    Parameters are checked before anything is yielded; a bad one raises
    :class:`~stagewise.ConfigError` naming it. A step whose training set has fewer than
    ``min_train_rows`` rows raises :class:`~stagewise.ConfigError` (the data does not reach
    back far enough) rather than being skipped.

    Examples
    --------
    >>> import pandas as pd
    >>> days = pd.date_range("2025-10-01", "2025-11-20", freq="D")
    >>> steps = list(walk_forward_windows(days, "2025-11-01", "2025-11-17", 14, 3, 3))
    >>> len(steps), steps[0].test_start.date(), steps[-1].partial
    (6, datetime.date(2025, 11, 1), True)
    >>> [str(d.date()) for d in days[steps[0].train]][:2]
    ['2025-10-18', '2025-10-19']
    """
    start, end, train, test, step, gap, horizon = _validate(
        start_date,
        end_date,
        train_days,
        test_days,
        step_days,
        gap_days,
        window,
        label_horizon,
        min_train_rows,
        last_window,
    )
    values = _as_nanoseconds(timestamps_or_dates)
    return _generate(values, start, end, train, test, step, gap, window, horizon, min_train_rows, last_window)


def _generate(
    values: np.ndarray,
    start: int,
    end: int,
    train_days: int,
    test_days: int,
    step_days: int,
    gap_days: int,
    window: str,
    horizon: tuple[str, int] | None,
    min_train_rows: int,
    last_window: str,
) -> Iterator[WalkForwardSplit]:
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    label_end: np.ndarray | None = None
    if horizon is not None and horizon[0] == "rows":
        # a label ends at the timestamp h rows later; near the end it is unknown, so it reaches everything
        h = horizon[1]
        label_end = np.full(len(ordered), _NEVER, dtype=np.int64)
        if len(ordered) > h:
            label_end[:-h] = ordered[h:]
    elif horizon is not None:
        label_end = ordered + horizon[1]
    period_end = end + _DAY
    test_start = start
    index = 0
    while test_start < period_end:
        test_end = test_start + test_days * _DAY
        partial = test_end > period_end
        if partial:
            if last_window == "drop":
                return
            test_end = period_end
        train_end = test_start - gap_days * _DAY
        train_start = train_end - train_days * _DAY
        lo = int(np.searchsorted(ordered, train_start, "left")) if window == "rolling" else 0
        hi = int(np.searchsorted(ordered, train_end, "left"))
        train_pos = order[lo:hi]
        n_purged = 0
        if label_end is not None and hi > lo:
            # label period (t, e] overlaps [test_start, test_end) iff e >= test_start, as t < test_start
            keep = label_end[lo:hi] < test_start
            n_purged = int(len(keep) - keep.sum())
            train_pos = train_pos[keep]
        if len(train_pos) < min_train_rows:
            first = _date(int(ordered[0])) if len(ordered) else "nowhere (no rows)"
            raise ConfigError(
                f"Step {index} (test from {_date(test_start)}) has {len(train_pos)} training rows; "
                f"min_train_rows is {min_train_rows}. The data starts at {first}: choose a start_date "
                f"at least train_days + gap_days ({train_days + gap_days}) days after it."
            )
        t_lo = int(np.searchsorted(ordered, test_start, "left"))
        t_hi = int(np.searchsorted(ordered, test_end, "left"))
        first_day = int(ordered[0]) - int(ordered[0]) % _DAY if len(ordered) else train_start
        yield WalkForwardSplit(
            step=index,
            train_start=pd.Timestamp(first_day if window == "expanding" else train_start),
            train_end=pd.Timestamp(train_end),
            test_start=pd.Timestamp(test_start),
            test_end=pd.Timestamp(test_end),
            train=np.sort(train_pos),
            test=np.sort(order[t_lo:t_hi]),
            partial=bool(partial),
            n_purged=n_purged,
        )
        index += 1
        test_start += step_days * _DAY


def plan_windows(
    timestamps_or_dates: Sequence[Any] | np.ndarray | pd.Series | pd.Index, **params: Unpack[WindowParams]
) -> list[WalkForwardSplit]:
    """Every step of :func:`walk_forward_windows` at once, so that errors surface before any work.

    Examples
    --------
    >>> import pandas as pd
    >>> days = pd.date_range("2025-10-01", "2025-11-20", freq="D")
    >>> [s.test_start.day for s in plan_windows(days, start_date="2025-11-01", end_date="2025-11-17",
    ...     train_days=14, test_days=3, step_days=3)]
    [1, 4, 7, 10, 13, 16]
    """
    return list(walk_forward_windows(timestamps_or_dates, **params))
