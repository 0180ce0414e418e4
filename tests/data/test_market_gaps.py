"""Gaps: the session rule, the policies, and a property test that finds exactly the removed bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise import DataValidationError
from stagewise.data import bundled_bars, find_gaps, synthetic_bars, validate_bars


def test_eurusd_weekend_closures_are_not_gaps_but_are_in_a_continuous_session() -> None:
    bars = bundled_bars("EURUSD")
    report = find_gaps(bars)
    assert (report.session, report.n_gaps, report.n_weekend_closures) == ("weekdays", 0, 42)
    assert report.freq == "0 days 01:00:00 (inferred)"
    with pytest.raises(DataValidationError) as info:
        validate_bars(bars, session="continuous")
    message = str(info.value)
    assert "first gap between 2017-04-21 20:00:00 and 2017-04-23 21:00:00" in message
    assert "42 gap(s) in total" in message
    assert "gaps='allow'" in message


def test_missing_hour_in_fx_week_is_a_gap_with_first_gap_and_count() -> None:
    bars = bundled_bars("EURUSD")
    holed = bars.drop(bars.index[[10, 11, 500]])
    with pytest.raises(DataValidationError) as info:
        validate_bars(holed)
    message = str(info.value)
    assert f"first gap between {bars.index[9]} and {bars.index[12]}" in message
    assert "expected every 0 days 01:00:00 (inferred), session 'weekdays'); 2 gap(s) in total" in message


def test_ffill_inserts_flat_bars_at_the_missing_timestamps_only() -> None:
    bars = bundled_bars("EURUSD")
    holed = bars.drop(bars.index[[10, 11, 500]])
    filled = validate_bars(holed, gaps="ffill")
    pd.testing.assert_index_equal(filled.index, bars.index, check_exact=True, check_freq=False)
    for position in (10, 11):
        row = filled.iloc[position]
        assert row[["open", "high", "low", "close"]].tolist() == [bars["close"].iloc[9]] * 4
        assert row["volume"] == 0.0
    kept = filled.drop(bars.index[[10, 11, 500]])
    pd.testing.assert_frame_equal(kept, holed)
    validate_bars(filled, gaps="error")


def test_allow_keeps_the_bars_as_they_are() -> None:
    bars = bundled_bars("EURUSD")
    holed = bars.drop(bars.index[[10]])
    pd.testing.assert_frame_equal(validate_bars(holed, gaps="allow"), holed)


def test_weekend_plus_a_holiday_is_a_closure_but_longer_than_four_days_is_a_gap() -> None:
    bars = bundled_bars("EURUSD")
    friday_evening = pd.Timestamp("2017-04-21 20:00")
    monday_noon, tuesday_late = pd.Timestamp("2017-04-24 12:00"), pd.Timestamp("2017-04-25 22:00")
    closure = bars[(bars.index <= friday_evening) | (bars.index > monday_noon)]
    assert find_gaps(closure).n_gaps == 0  # 2 days 17 hours over a Saturday: a long weekend
    holed = bars[(bars.index <= friday_evening) | (bars.index > tuesday_late)]
    report = find_gaps(holed)
    assert report.gaps == ((friday_evening, pd.Timestamp("2017-04-25 23:00")),)
    # Filling invents no Saturday or Sunday bars, only the missing weekday hours.
    filled = validate_bars(holed, gaps="ffill")
    added = filled.index.difference(holed.index)
    assert not added.day_of_week.isin([5, 6]).any()
    assert added[0] == pd.Timestamp("2017-04-21 21:00")
    assert added[3] == pd.Timestamp("2017-04-24 00:00")
    assert len(added) == 3 + 24 + 23


def test_goog_mid_week_holidays_are_the_only_gaps() -> None:
    report = find_gaps(bundled_bars("GOOG"))
    assert report.session == "weekdays"
    assert report.n_gaps == 20
    assert (pd.Timestamp("2012-10-26"), pd.Timestamp("2012-10-31")) in report.gaps  # Hurricane Sandy
    assert (pd.Timestamp("2006-11-22"), pd.Timestamp("2006-11-24")) in report.gaps  # Thanksgiving
    with pytest.raises(
        DataValidationError, match=r"2004-11-24 00:00:00 and 2004-11-26 00:00:00.*20 gap\(s\)"
    ):
        bundled_bars("GOOG", gaps="error")


def test_monthly_bars_with_an_explicit_month_end_freq() -> None:
    bars = bundled_bars("BTCUSD")
    assert find_gaps(bars, freq="ME").n_gaps == 0
    assert find_gaps(bars).session == "continuous"
    holed = bars.drop(pd.Timestamp("2015-06-30"))
    report = find_gaps(holed, freq="ME")
    assert report.gaps == ((pd.Timestamp("2015-05-31"), pd.Timestamp("2015-07-31")),)
    assert find_gaps(holed).n_gaps == 1  # inferred 31-day median step: 61 days > 1.5 x 31
    filled = validate_bars(holed, gaps="ffill", freq="ME")
    pd.testing.assert_index_equal(filled.index, bars.index, check_exact=True, check_freq=False)


def test_fewer_than_two_bars_have_no_gaps() -> None:
    one = synthetic_bars(1)
    assert find_gaps(one).n_gaps == 0
    assert len(validate_bars(one, gaps="ffill")) == 1


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=3, max_value=300),
    seed=st.integers(min_value=0, max_value=2**16),
    holes=st.sets(st.integers(min_value=1, max_value=298), max_size=40),
)
def test_gaps_are_exactly_the_runs_of_removed_bars(n: int, seed: int, holes: set[int]) -> None:
    bars = synthetic_bars(n, freq="1h", seed=seed)
    removed = sorted(h for h in holes if h < n - 1)
    holed = bars.drop(bars.index[removed])
    runs = sum(1 for i, h in enumerate(removed) if i == 0 or removed[i - 1] != h - 1)
    report = find_gaps(holed, freq="1h", session="continuous")
    assert report.n_gaps == runs
    for before, after in report.gaps:
        missing = bars.index[(bars.index > before) & (bars.index < after)]
        assert set(missing) <= set(bars.index[removed])
    filled = validate_bars(holed, gaps="ffill", freq="1h", session="continuous")
    pd.testing.assert_index_equal(filled.index, bars.index, check_exact=True, check_freq=False)
    assert np.array_equal(filled["volume"].to_numpy() == 0, bars.index.isin(bars.index[removed]))


def test_timezone_aware_bars_keep_their_zone_through_validation_and_filling() -> None:
    bars = bundled_bars("EURUSD").tz_localize("Asia/Tokyo")
    assert find_gaps(bars).n_gaps == 0
    filled = validate_bars(bars.drop(bars.index[[5, 6]]), gaps="ffill")
    assert str(filled.index.dtype) == "datetime64[ns, Asia/Tokyo]"
    pd.testing.assert_index_equal(filled.index, bars.index, check_exact=True)
    months = bundled_bars("BTCUSD").tz_localize("Asia/Tokyo")
    refilled = validate_bars(months.drop(months.index[10]), gaps="ffill", freq="ME")
    pd.testing.assert_index_equal(refilled.index, months.index, check_exact=True)
