"""validate_bars: every rule of the bar schema, each with the message a user would read."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from stagewise import ConfigError, DataValidationError
from stagewise.data import BAR_COLUMNS, validate_bars


def _bars(n: int = 6) -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=n, freq="1h", name="timestamp")
    close = 100.0 + np.arange(n)
    return pd.DataFrame(
        {
            "open": close - 0.5,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": 10 + np.arange(n),
        },
        index=idx,
    )


def test_valid_bars_come_back_canonical_float64() -> None:
    raw = _bars()[["close", "volume", "open", "low", "high"]].assign(extra="x")
    out = validate_bars(raw)
    assert list(out.columns) == list(BAR_COLUMNS)
    assert (out.dtypes == "float64").all()
    assert out.index.name == "timestamp"
    assert out.index.dtype == "datetime64[ns]"
    assert out["volume"].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]


def _set(column: str, row: int, value: float) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df.iloc[row, df.columns.get_loc(column)] = value
        return df

    return mutate


BAD_VALUES = [
    pytest.param(
        _set("close", 2, 0.0), ["'close' must be a price > 0", "2024-01-01 02:00:00", "close=0.0"], id="zero"
    ),
    pytest.param(
        _set("open", 3, -1.0), ["'open' must be a price > 0", "2024-01-01 03:00:00", "open=-1.0"], id="neg"
    ),
    pytest.param(
        _set("high", 1, 90.0),
        ["'high' is below 'low'", "2024-01-01 01:00:00", "high=90.0", "low=100.0"],
        id="high-below-low",
    ),
    pytest.param(
        _set("high", 4, 103.8),
        ["'high' is below 'close'", "2024-01-01 04:00:00", "high=103.8", "close=104.0"],
        id="high-below-close",
    ),
    pytest.param(
        _set("open", 5, 106.5),
        ["'high' is below 'open'", "2024-01-01 05:00:00", "open=106.5"],
        id="high-below-open",
    ),
    pytest.param(
        _set("low", 2, 101.7),
        ["'low' is above 'open'", "2024-01-01 02:00:00", "low=101.7", "open=101.5"],
        id="low-above-open",
    ),
    pytest.param(
        lambda df: _set("low", 4, 103.3)(_set("close", 4, 103.2)(df)),
        ["'low' is above 'close'", "2024-01-01 04:00:00", "low=103.3", "close=103.2"],
        id="low-above-close",
    ),
    pytest.param(_set("volume", 0, -5.0), ["'volume' must be >= 0", "volume=-5.0"], id="neg-volume"),
    pytest.param(_set("close", 3, np.nan), ["'close' is NaN or infinite", "2024-01-01 03:00:00"], id="nan"),
    pytest.param(_set("low", 3, -np.inf), ["'low' is NaN or infinite", "low=-inf"], id="inf"),
]


@pytest.mark.parametrize(("mutate", "fragments"), BAD_VALUES)
def test_each_bad_value_is_named_with_timestamp_column_and_value(
    mutate: Callable[[pd.DataFrame], pd.DataFrame], fragments: list[str]
) -> None:
    bars = mutate(_bars())
    with pytest.raises(DataValidationError) as info:
        validate_bars(bars)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert "1 row(s) break this rule" in str(info.value)


def test_prices_touching_high_and_low_are_valid() -> None:
    bars = _bars()
    bars["open"] = bars["high"]
    bars["close"] = bars["low"]
    bars["volume"] = 0.0
    assert len(validate_bars(bars)) == len(bars)


def test_count_of_breaking_rows_is_reported() -> None:
    bars = _bars()
    bars.loc[bars.index[[1, 4]], "volume"] = -1.0
    with pytest.raises(DataValidationError, match=r"volume=-1\.0\); 2 row\(s\)"):
        validate_bars(bars)


def test_non_numeric_value_is_quoted() -> None:
    bars = _bars().astype({"close": object})
    bars.iloc[2, bars.columns.get_loc("close")] = "n/a"
    with pytest.raises(
        DataValidationError, match=r"'close' is not numeric at timestamp 2024-01-01 02:00:00 \(value 'n/a'\)"
    ):
        validate_bars(bars)


def test_duplicate_timestamp_is_named() -> None:
    bars = _bars()
    bars.index = bars.index.where(bars.index != bars.index[3], bars.index[2])
    with pytest.raises(
        DataValidationError, match=r"duplicate timestamp 2024-01-01 02:00:00 \(rows 2 and 3\)"
    ):
        validate_bars(bars)


def test_backwards_timestamp_is_named() -> None:
    bars = _bars().iloc[[0, 1, 3, 2, 4, 5]]
    with pytest.raises(
        DataValidationError,
        match=r"not increasing: 2024-01-01 02:00:00 \(row 3\) comes after 2024-01-01 03:00:00",
    ):
        validate_bars(bars)


def test_missing_timestamp_is_named() -> None:
    bars = _bars()
    bars.index = pd.DatetimeIndex([*bars.index[:2], pd.NaT, *bars.index[3:]], name="timestamp")
    with pytest.raises(DataValidationError, match=r"missing \(NaT\) at row 2"):
        validate_bars(bars)


def test_missing_column_names_it_and_points_to_load_bars() -> None:
    with pytest.raises(DataValidationError, match=r"missing column 'volume'.*load_bars"):
        validate_bars(_bars().drop(columns="volume"))


def test_timestamp_column_instead_of_index_gets_a_hint() -> None:
    with pytest.raises(DataValidationError, match=r"Got RangeIndex\. It has a 'timestamp' column"):
        validate_bars(_bars().reset_index())


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param(
            {"gaps": "drop"}, "'gaps' parameter must be one of error, allow, ffill. Got 'drop'", id="gaps"
        ),
        pytest.param(
            {"session": "nyse"}, "'session' parameter must be one of auto, continuous, weekdays", id="session"
        ),
        pytest.param({"freq": "fortnightly"}, "'freq' parameter must be a pandas offset alias", id="freq"),
    ],
)
def test_bad_parameters_are_config_errors(kwargs: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_bars(_bars(), **kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_input_frame_is_not_modified() -> None:
    bars = _bars()
    before = bars.copy()
    validate_bars(bars.drop(bars.index[2]), gaps="ffill")
    pd.testing.assert_frame_equal(bars, before)
