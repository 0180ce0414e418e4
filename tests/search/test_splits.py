"""Nested windows: no inner split may touch an outer test window, its gap, or a label reaching it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stagewise import ConfigError
from stagewise.search import nested_splits

_DAY = np.timedelta64(1, "D")


@st.composite
def nested_settings(draw: st.DrawFn) -> dict[str, object]:
    n_days = draw(st.integers(40, 120))
    per_day = draw(st.sampled_from([1, 6, 24]))
    stamps = pd.date_range("2025-01-01", periods=n_days * per_day, freq=pd.Timedelta(hours=24 // per_day))
    train_days = draw(st.integers(6, 30))
    gap_days = draw(st.integers(0, 3))
    inner_train = draw(st.integers(1, max(1, train_days - gap_days - 2)))
    inner_test = draw(st.integers(1, max(1, train_days - gap_days - inner_train)))
    test_days = draw(st.integers(1, 10))
    start = stamps[0].normalize() + pd.Timedelta(days=train_days + gap_days + draw(st.integers(0, 5)))
    end = start + pd.Timedelta(days=draw(st.integers(0, 20)))
    horizon = draw(st.sampled_from([None, 1, 5, dt.timedelta(hours=30)]))
    return {
        "stamps": stamps,
        "kwargs": {
            "start_date": start,
            "end_date": min(end, stamps[-1].normalize()),
            "train_days": train_days,
            "test_days": test_days,
            "step_days": draw(st.integers(1, 10)),
            "gap_days": gap_days,
            "inner_train_days": inner_train,
            "inner_test_days": inner_test,
            "window": draw(st.sampled_from(["rolling", "expanding"])),
            "label_horizon": horizon,
        },
    }


def _label_end(stamps: np.ndarray, horizon: object) -> np.ndarray:
    if horizon is None:
        return stamps
    if isinstance(horizon, int):
        ends = np.full(len(stamps), np.datetime64("2262-01-01"), dtype="datetime64[ns]")
        ends[:-horizon] = stamps[horizon:]
        return ends
    return stamps + np.timedelta64(int(pd.Timedelta(horizon).value), "ns")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nested_settings())
def test_no_inner_split_touches_an_outer_test_window_or_its_gap(case: dict[str, object]) -> None:
    stamps = pd.DatetimeIndex(case["stamps"]).to_numpy()  # type: ignore[arg-type]
    kwargs: dict[str, object] = case["kwargs"]  # type: ignore[assignment]
    try:
        steps = nested_splits(stamps, **kwargs)  # type: ignore[arg-type]
    except ConfigError as exc:  # an outer window too short for an inner walk-forward is refused, never shrunk
        refused = str(exc)
        assert "no room for an inner walk-forward" in refused
        return
    label_end = _label_end(stamps, kwargs["label_horizon"])
    gap = int(kwargs["gap_days"]) * _DAY  # type: ignore[call-overload]
    for step in steps:
        outer = step.outer
        test_start = outer.test_start.to_datetime64()
        # the gap before the outer test and the test itself (the final step has no test, so no gap)
        forbidden_from = test_start - (gap if not step.final else 0 * _DAY)
        outer_test = set(outer.test.tolist())
        assert step.inner, "every outer step has an inner walk-forward"
        for inner in step.inner:
            for positions in (inner.train, inner.test):
                assert not outer_test & set(positions.tolist())
                assert (stamps[positions] < forbidden_from).all()
                # nor a row whose label period reaches into the outer test window
                if len(positions) and not step.final:
                    assert (label_end[positions] < test_start).all()
            assert set(inner.train.tolist()) <= set(outer.train.tolist())
            assert set(inner.test.tolist()) <= set(outer.train.tolist())
            if len(inner.train) and len(inner.test):
                assert stamps[inner.train].max() < stamps[inner.test].min() - gap


def test_inner_windows_tile_the_tail_of_each_outer_training_window() -> None:
    days = pd.date_range("2025-01-01", "2025-03-31", freq="D")
    steps = nested_splits(
        days,
        start_date="2025-03-01",
        end_date="2025-03-14",
        train_days=28,
        test_days=7,
        step_days=7,
        inner_train_days=14,
        inner_test_days=7,
    )
    first = steps[0]
    assert [str(days[s.test[0]].date()) for s in first.inner] == ["2025-02-15", "2025-02-22"]
    assert str(days[first.outer.test[0]].date()) == "2025-03-01"
    assert steps[-1].final
    assert len(steps[-1].outer.test) == 0
    assert str(days[steps[-1].outer.train[-1]].date()) == "2025-03-31"


def test_an_outer_window_too_short_for_inner_steps_is_refused_naming_the_fields() -> None:
    days = pd.date_range("2025-01-01", "2025-03-31", freq="D")
    with pytest.raises(ConfigError, match="'inner_train_days' \\(20\\) \\+ 'gap_days' \\(2\\)"):
        nested_splits(
            days,
            start_date="2025-03-01",
            end_date="2025-03-14",
            train_days=21,
            test_days=7,
            step_days=7,
            gap_days=2,
            inner_train_days=20,
        )
