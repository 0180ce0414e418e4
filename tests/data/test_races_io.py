"""Race files: CSV and Parquet round trips, clear errors, and the result mapping for score_race."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from stagewise import ConfigError, DataValidationError, NotFoundError
from stagewise.data import load_races, race_results, save_races
from stagewise.metrics.races import score_race


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_save_then_load_gives_the_same_races(one_day: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    path = save_races(one_day, tmp_path / "nested" / f"races{suffix}")
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    pd.testing.assert_frame_equal(load_races(path), one_day)


def test_csv_keeps_japanese_status_codes(one_day: pd.DataFrame, tmp_path: Path) -> None:
    df = one_day.copy()
    df.loc[df.index[:6], ["finish_position", "status"]] = [
        [1, "finished"],
        [pd.NA, "欠"],
        [2, "finished"],
        [pd.NA, "転"],
        [3, "finished"],
        [pd.NA, "F"],
    ]
    loaded = load_races(save_races(df, tmp_path / "races.csv"))
    assert loaded["status"].tolist()[:6] == ["finished", "欠", "finished", "転", "finished", "F"]


def test_unsupported_suffix_names_the_accepted_ones(tmp_path: Path) -> None:
    (tmp_path / "races.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"one of \['\.csv', '\.parquet'\]\. Got .*races\.json"):
        load_races(tmp_path / "races.json")


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"nope\.parquet"):
        load_races(tmp_path / "nope.parquet")


def test_corrupt_parquet_is_a_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "races.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataValidationError, match="Cannot read race data file"):
        load_races(path)


def test_csv_with_a_bad_date_names_race_field_and_value(one_day: pd.DataFrame, tmp_path: Path) -> None:
    path = save_races(one_day, tmp_path / "races.csv")
    text = path.read_text(encoding="utf-8").replace(
        "20250101-24-03,2025-01-01", "20250101-24-03,2025-01-3x", 1
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        DataValidationError, match=r"race 20250101-24-03: field 'race_date' value '2025-01-3x'"
    ):
        load_races(path)


def test_a_failed_save_leaves_the_previous_file(one_day: pd.DataFrame, tmp_path: Path) -> None:
    path = save_races(one_day, tmp_path / "races.parquet")
    before = path.read_bytes()
    with pytest.raises(DataValidationError):
        save_races(one_day.assign(pit=9), path)
    assert path.read_bytes() == before


def test_race_results_feed_score_race(one_day: pd.DataFrame) -> None:
    df = one_day.copy()
    race = df.index[df["race_id"].eq("20250101-24-01")]
    df.loc[race, ["finish_position", "status"]] = [
        [2, "finished"],
        [1, "finished"],
        [pd.NA, "F"],
        [3, "finished"],
        [pd.NA, "転"],
        [4, "finished"],
    ]
    results = race_results(df)
    assert set(results) == set(df["race_id"])
    assert results["20250101-24-01"] == {1: 2, 2: 1, 3: "F", 4: 3, 5: "転", 6: 4}
    score = score_race([2, 1, 4, 6, 5, 3], results["20250101-24-01"])
    assert score.hit_1st
    assert score.hit_top3
    assert score.n_did_not_start == 1
