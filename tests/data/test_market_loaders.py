"""load_bars and bundled_bars: real files in the spellings users have, and clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import backtesting
import pandas as pd
import pytest

from stagewise import ConfigError, DataValidationError, NotFoundError
from stagewise.data import BAR_COLUMNS, BUNDLED_BARS, bundled_bars, load_bars, validate_bars
from stagewise.data.markets import COLUMNS_MAPPED_ATTR


def test_eurusd_has_5000_hourly_bars_that_validate_strictly() -> None:
    bars = bundled_bars("EURUSD")
    assert len(bars) == 5000
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert bars.index[0] == pd.Timestamp("2017-04-19 09:00")
    pd.testing.assert_frame_equal(validate_bars(bars, gaps="error", freq="1h"), bars)


@pytest.mark.parametrize(("name", "rows"), [("EURUSD", 5000), ("GOOG", 2148), ("btcusd", 156)])
def test_each_bundled_series_loads(name: str, rows: int) -> None:
    bars = bundled_bars(name)
    assert len(bars) == rows
    assert (bars.dtypes == "float64").all()


def test_unknown_bundled_name_lists_the_accepted_ones() -> None:
    with pytest.raises(NotFoundError, match=r"No bundled bars named 'SPY'; accepted: BTCUSD, EURUSD, GOOG\."):
        bundled_bars("SPY")
    assert sorted(BUNDLED_BARS) == ["BTCUSD", "EURUSD", "GOOG"]


def test_backtesting_py_csv_as_shipped_is_mapped_and_reported() -> None:
    path = Path(backtesting.__file__).parent / "test" / "EURUSD.csv"
    bars = load_bars(path)
    assert bars.attrs[COLUMNS_MAPPED_ATTR] == {
        "Unnamed: 0": "timestamp",
        "Open": "open",
        "High": "high",
        "Low": "low",
        "Close": "close",
        "Volume": "volume",
    }
    pd.testing.assert_frame_equal(bars, bundled_bars("EURUSD"), check_freq=False)


def test_parquet_round_trip_keeps_every_value(tmp_path: Path) -> None:
    path = tmp_path / "goog.parquet"
    bars = bundled_bars("GOOG")
    bars.to_parquet(path)
    loaded = load_bars(path, gaps="allow")
    pd.testing.assert_frame_equal(loaded, bars)
    assert loaded.attrs[COLUMNS_MAPPED_ATTR] == {}


@pytest.mark.parametrize("time_name", ["Date", "datetime", "TIMESTAMP", "time"])
def test_time_column_spellings(tmp_path: Path, time_name: str) -> None:
    bars = bundled_bars("BTCUSD").iloc[:12]
    frame = bars.rename(columns=str.upper).reset_index(names=time_name)
    path = tmp_path / "btc.csv"
    frame.to_csv(path, index=False)
    loaded = load_bars(path)
    assert loaded.attrs[COLUMNS_MAPPED_ATTR][time_name] == "timestamp"
    pd.testing.assert_frame_equal(loaded, bars, check_freq=False)


def test_short_spellings_and_extra_columns(tmp_path: Path) -> None:
    bars = bundled_bars("EURUSD").iloc[:30]
    frame = bars.rename(columns={"open": "o", "high": "h", "low": "l", "close": "c", "volume": "vol"})
    path = tmp_path / "short.csv.gz"
    frame.assign(symbol="EURUSD").to_csv(path)
    loaded = load_bars(path)
    assert list(loaded.columns) == list(BAR_COLUMNS)
    assert loaded.attrs[COLUMNS_MAPPED_ATTR]["vol"] == "volume"


def test_missing_column_is_named_with_accepted_spellings(tmp_path: Path) -> None:
    path = tmp_path / "novol.csv"
    bundled_bars("EURUSD").iloc[:5].drop(columns="volume").to_csv(path)
    with pytest.raises(DataValidationError) as info:
        load_bars(path)
    assert "missing column 'volume'" in str(info.value)
    assert "'volume', 'vol', 'v'" in str(info.value)


def test_missing_time_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notime.csv"
    bundled_bars("EURUSD").iloc[:5].to_csv(path, index=False)
    with pytest.raises(
        DataValidationError, match=r"missing column 'timestamp'.*timestamp, datetime, date or time"
    ):
        load_bars(path)


def test_two_spellings_of_one_column_are_ambiguous(tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    bundled_bars("EURUSD").iloc[:5].assign(Close=1.0).to_csv(path)
    with pytest.raises(DataValidationError, match=r"column 'close' is ambiguous: \['close', 'Close'\]"):
        load_bars(path)


def test_unparseable_date_is_quoted(tmp_path: Path) -> None:
    frame = bundled_bars("EURUSD").iloc[:5].reset_index()
    frame["timestamp"] = frame["timestamp"].astype(str)
    frame.loc[3, "timestamp"] = "yesterday-ish"
    path = tmp_path / "baddate.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(
        DataValidationError, match=r"'timestamp' is not a date/time at row 3 \(value 'yesterday-ish'\)"
    ):
        load_bars(path)


def test_bad_value_in_file_is_named(tmp_path: Path) -> None:
    frame = bundled_bars("EURUSD").iloc[:5].copy()
    frame.iloc[2, frame.columns.get_loc("low")] = 2.0
    path = tmp_path / "badlow.csv"
    frame.to_csv(path)
    with pytest.raises(DataValidationError, match=r"'high' is below 'low' at timestamp 2017-04-19 11:00:00"):
        load_bars(path)


def test_unsupported_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"accepted file types are \.csv, \.csv\.gz, \.parquet, \.pq"):
        load_bars(tmp_path / "bars.xlsx")
    with pytest.raises(NotFoundError, match=r"Bars file not found: .*nothing\.csv"):
        load_bars(tmp_path / "nothing.csv")
