"""Nested walk-forward windows: inner walk-forwards inside each outer training window (pure).

For each outer step of :func:`~stagewise.backtest.walk_forward_windows`, the inner
walk-forward runs on that step's *training rows only*: its evaluation period is the tail of
the outer training window, it keeps the same gap (embargo) and label-horizon purge, and its
positions are mapped back to the full data. So an inner split can never touch the outer test
window, nor the outer gap before it, nor a row whose label reaches into the outer test window
(property-tested in ``tests/search/test_splits.py``).

A last *final* step (``final=True``, no test rows) covers the newest training window of the
data: the configuration chosen there is the one to train and register.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError
from stagewise.backtest.windows import WalkForwardSplit, plan_windows, walk_forward_windows

__all__ = ["NestedStep", "nested_splits"]

_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class NestedStep:
    """One outer step (positions in the full data) and the inner splits inside its training rows."""

    outer: WalkForwardSplit
    inner: tuple[WalkForwardSplit, ...]
    final: bool = False


def _inner(
    stamps: np.ndarray,
    outer: WalkForwardSplit,
    inner_train_days: int,
    inner_test_days: int,
    gap_days: int,
    label_horizon: int | dt.timedelta | None,
) -> tuple[WalkForwardSplit, ...]:
    if len(outer.train) == 0:
        return ()
    sub = stamps[outer.train]
    first_day = pd.Timestamp(sub.min()).normalize()
    start = max(outer.train_start, first_day) + pd.Timedelta(days=inner_train_days + gap_days)
    end = outer.train_end - _DAY
    if start > end:
        return ()
    splits = walk_forward_windows(
        sub,
        start,
        end,
        inner_train_days,
        inner_test_days,
        inner_test_days,
        gap_days=gap_days,
        label_horizon=label_horizon,
        min_train_rows=0,
        last_window="drop",
    )
    return tuple(
        WalkForwardSplit(
            s.step,
            s.train_start,
            s.train_end,
            s.test_start,
            s.test_end,
            outer.train[s.train],
            outer.train[s.test],
            s.partial,
            s.n_purged,
        )
        for s in splits
    )


def nested_splits(
    timestamps: Sequence[Any] | np.ndarray | pd.Index,
    *,
    start_date: Any,
    end_date: Any,
    train_days: int,
    test_days: int,
    step_days: int,
    gap_days: int = 0,
    inner_train_days: int | None = None,
    inner_test_days: int | None = None,
    window: Literal["rolling", "expanding"] = "rolling",
    label_horizon: int | dt.timedelta | None = None,
    usable: np.ndarray | None = None,
    final: bool = True,
) -> list[NestedStep]:
    """Outer walk-forward steps, each with its inner walk-forward; plus the final step.

    ``inner_train_days`` defaults to half of ``train_days`` and ``inner_test_days`` to
    ``test_days``; inner windows step by ``inner_test_days`` and tile the tail of each outer
    training window. ``usable`` (a boolean mask) removes rows no model may use (market bars in
    the indicators' warm-up) from every window. A step whose training window holds no inner
    split is refused: make ``train_days`` longer or the inner windows shorter.

    Examples
    --------
    >>> import pandas as pd
    >>> days = pd.date_range("2025-01-01", "2025-03-31", freq="D")
    >>> steps = nested_splits(days, start_date="2025-03-01", end_date="2025-03-28", train_days=28,
    ...                       test_days=7, step_days=7, inner_train_days=14, inner_test_days=7)
    >>> len(steps), len(steps[0].inner), steps[-1].final
    (5, 2, True)
    """
    inner_train = train_days // 2 if inner_train_days is None else inner_train_days
    inner_test = test_days if inner_test_days is None else inner_test_days
    for name, value in (("inner_train_days", inner_train), ("inner_test_days", inner_test)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"The {name!r} parameter must be an int >= 1. Got {value!r} instead.")
    stamps = pd.DatetimeIndex(np.asarray(timestamps)).as_unit("ns").to_numpy()
    mask = np.ones(len(stamps), dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    outers = plan_windows(
        stamps,
        start_date=start_date,
        end_date=end_date,
        train_days=train_days,
        test_days=test_days,
        step_days=step_days,
        gap_days=gap_days,
        window=window,
        label_horizon=label_horizon,
        min_train_rows=0,
    )
    if final and len(stamps):
        # the newest window: trained up to the last day of the data, nothing to test
        after_last = pd.Timestamp(stamps.max()).normalize() + _DAY
        last = plan_windows(
            stamps,
            start_date=after_last,
            end_date=after_last,
            train_days=train_days,
            test_days=1,
            step_days=1,
            gap_days=0,
            window=window,
            min_train_rows=0,
        )[0]
        outers.append(
            WalkForwardSplit(
                len(outers),
                last.train_start,
                last.train_end,
                last.test_start,
                last.test_start,
                last.train,
                last.test[:0],
                False,
                0,
            )
        )
    steps: list[NestedStep] = []
    for i, outer in enumerate(outers):
        outer = outer.keeping(mask)
        inner = _inner(stamps, outer, inner_train, inner_test, gap_days, label_horizon)
        if not inner:
            raise ConfigError(
                f"Outer step {outer.step} (training {outer.train_start.date()} to "
                f"{(outer.train_end - _DAY).date()}) has no room for an inner walk-forward: "
                f"'inner_train_days' ({inner_train}) + 'gap_days' ({gap_days}) + 'inner_test_days' "
                f"({inner_test}) must fit in 'train_days' ({train_days})."
            )
        steps.append(NestedStep(outer, inner, final=final and i == len(outers) - 1))
    return steps
