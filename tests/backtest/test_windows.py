from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise import ConfigError, DataValidationError
from stagewise.backtest.windows import plan_windows, walk_forward_windows

DAYS = pd.date_range("2025-10-01", "2025-11-20", freq="D")
SEED = {
    "start_date": "2025-11-01",
    "end_date": "2025-11-17",
    "train_days": 14,
    "test_days": 3,
    "step_days": 3,
}


def test_seed_example_gives_six_steps_with_a_partial_last_window() -> None:
    steps = plan_windows(DAYS, **SEED)
    assert [s.test_start.strftime("%m-%d") for s in steps] == [
        "11-01",
        "11-04",
        "11-07",
        "11-10",
        "11-13",
        "11-16",
    ]
    assert [s.partial for s in steps] == [False] * 5 + [True]
    # the last window is truncated at the end of end_date (17th included, 18th not)
    assert steps[-1].test_end == pd.Timestamp("2025-11-18")
    assert [d.day for d in DAYS[steps[-1].test]] == [16, 17]
    assert [d.day for d in DAYS[steps[0].train]] == list(range(18, 32))


def test_drop_rule_removes_the_partial_window() -> None:
    steps = plan_windows(DAYS, **SEED, last_window="drop")
    assert len(steps) == 5
    assert not any(s.partial for s in steps)


def test_gap_ends_training_gap_days_before_the_test_window() -> None:
    step = plan_windows(DAYS, **SEED, gap_days=2)[0]
    train_days = DAYS[step.train]
    assert train_days.max() == pd.Timestamp("2025-10-29")
    assert len(train_days) == 14


def test_expanding_window_starts_at_the_first_row() -> None:
    steps = plan_windows(DAYS, **SEED, window="expanding")
    assert all(DAYS[s.train].min() == DAYS[0] for s in steps)
    assert len(steps[1].train) == len(steps[0].train) + 3


def test_rows_within_a_day_stay_together_and_positions_follow_the_input() -> None:
    # three races a day, given out of order: a day is never split and positions index the input
    stamps = pd.Series(np.repeat(DAYS.values, 3)).sample(frac=1.0, random_state=1).to_numpy()
    for s in plan_windows(stamps, **SEED):
        test_days = pd.DatetimeIndex(stamps[s.test]).normalize()
        assert (pd.Series(test_days).value_counts() == 3).all()
        assert np.all(np.diff(s.test) > 0)


def test_purging_drops_rows_whose_label_reaches_the_test_window() -> None:
    bars = pd.date_range("2025-10-01", "2025-11-20", freq="h")
    plain = plan_windows(bars, **SEED)[0]
    purged = plan_windows(bars, **SEED, label_horizon=3)[0]
    assert plain.n_purged == 0
    assert purged.n_purged == 3
    assert bars[purged.train].max() == pd.Timestamp("2025-10-31 20:00")
    by_time = plan_windows(bars, **SEED, label_horizon=dt.timedelta(hours=5))[0]
    assert by_time.n_purged == 5


def test_too_little_history_is_an_error_naming_the_step() -> None:
    with pytest.raises(ConfigError, match=r"Step 0 .* 0 training rows"):
        plan_windows(DAYS[DAYS >= "2025-11-01"], **SEED)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"end_date": "2025-10-01"}, "'end_date' parameter must not be before start_date"),
        ({"train_days": 0}, "The 'train_days' parameter must be an int >= 1. Got 0 instead."),
        ({"test_days": 1.5}, "The 'test_days' parameter must be an int >= 1. Got 1.5 instead."),
        ({"step_days": True}, "The 'step_days' parameter must be an int >= 1. Got True instead."),
        ({"gap_days": -1}, "The 'gap_days' parameter must be an int >= 0. Got -1 instead."),
        (
            {"window": "sliding"},
            "The 'window' parameter must be one of ['rolling', 'expanding']. Got 'sliding'",
        ),
        ({"label_horizon": 0}, "The 'label_horizon' parameter must be an int >= 1. Got 0 instead."),
        ({"start_date": "yesterday-ish"}, "The 'start_date' parameter must be a date"),
        ({"last_window": "pad"}, "The 'last_window' parameter must be one of"),
    ],
    ids=[
        "end-before-start",
        "train-0",
        "test-float",
        "step-bool",
        "gap-negative",
        "window",
        "horizon",
        "date",
        "last",
    ],
)
def test_bad_parameters_fail_before_any_step(override: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        walk_forward_windows(DAYS, **{**SEED, **override})  # type: ignore[arg-type]
    assert message in str(info.value)


def test_missing_timestamp_is_a_data_error() -> None:
    with pytest.raises(DataValidationError, match="position 1"):
        walk_forward_windows(np.array(["2025-11-01", "NaT"], dtype="datetime64[ns]"), **SEED)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[np.ndarray, dict[str, object]]:
    n_days = draw(st.integers(10, 80))
    freq_hours = draw(st.sampled_from([1, 6, 24]))
    stamps = pd.date_range("2025-01-01", periods=n_days * 24 // freq_hours, freq=f"{freq_hours}h")
    keep_share = draw(st.floats(0.2, 1.0))
    keep = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random(len(stamps)) < keep_share
    stamps = stamps[keep]
    start = draw(st.integers(0, n_days - 1))
    length = draw(st.integers(0, n_days))
    test_days = draw(st.integers(1, 10))
    params = {
        "start_date": pd.Timestamp("2025-01-01") + pd.Timedelta(days=start),
        "end_date": pd.Timestamp("2025-01-01") + pd.Timedelta(days=start + length),
        "train_days": draw(st.integers(1, 20)),
        "test_days": test_days,
        "step_days": draw(st.one_of(st.just(test_days), st.integers(1, 10))),
        "gap_days": draw(st.integers(0, 5)),
        "window": draw(st.sampled_from(["rolling", "expanding"])),
        "label_horizon": draw(st.one_of(st.none(), st.integers(1, 30))),
        "min_train_rows": 0,
    }
    return stamps.to_numpy(), params


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_no_training_row_reaches_the_test_window(case: tuple[np.ndarray, dict[str, object]]) -> None:
    stamps, params = case
    gap = pd.Timedelta(days=int(params["gap_days"]))  # type: ignore[call-overload]
    for s in walk_forward_windows(stamps, **params):  # type: ignore[arg-type]
        train_times = stamps[s.train]
        assert (train_times < (s.test_start - gap).to_datetime64()).all()
        assert not set(s.test.tolist()) & set(s.train.tolist())
        assert (
            (stamps[s.test] >= s.test_start.to_datetime64()) & (stamps[s.test] < s.test_end.to_datetime64())
        ).all()


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_purged_label_periods_never_overlap_the_test_window(
    case: tuple[np.ndarray, dict[str, object]],
) -> None:
    stamps, params = case
    horizon = params["label_horizon"]
    if horizon is None:
        return
    ordered = np.sort(stamps)
    for s in walk_forward_windows(stamps, **params):  # type: ignore[arg-type]
        for pos in s.train:
            rank = int(np.searchsorted(ordered, stamps[pos], "left"))
            # the label of this row ends at the timestamp `horizon` rows later (unknown: reaches everything)
            assert rank + int(horizon) < len(ordered)  # type: ignore[call-overload]
            assert ordered[rank + int(horizon)] < s.test_start.to_datetime64()  # type: ignore[call-overload]


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_each_test_day_is_covered_once_when_step_equals_test(
    case: tuple[np.ndarray, dict[str, object]],
) -> None:
    stamps, params = case
    params = {**params, "step_days": params["test_days"]}
    covered: list[int] = []
    days_seen: list[pd.Timestamp] = []
    for s in walk_forward_windows(stamps, **params):  # type: ignore[arg-type]
        covered.extend(s.test.tolist())
        days_seen.extend(pd.date_range(s.test_start, s.test_end - pd.Timedelta(days=1), freq="D"))
    period = pd.date_range(params["start_date"], params["end_date"], freq="D")  # type: ignore[arg-type]
    assert days_seen == list(period)
    expected = np.flatnonzero(
        (stamps >= period[0].to_datetime64()) & (stamps < (period[-1] + pd.Timedelta(days=1)).to_datetime64())
    )
    assert sorted(covered) == expected.tolist()
