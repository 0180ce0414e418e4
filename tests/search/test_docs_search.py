"""docs/search.md: its space file parses and is accepted by the ensemble; its Python block runs as printed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from stagewise.features.races import RACE_FEATURE_NAMES
from stagewise.search import EnsembleTarget, load_space, read_results

PAGE = Path(__file__).resolve().parents[2] / "docs" / "search.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)


def test_the_space_on_the_page_is_valid_for_the_ensemble_and_the_race_features(tmp_path: Path) -> None:
    (block,) = _blocks("toml")
    path = tmp_path / "space.toml"
    path.write_text(block, encoding="utf-8")
    space = load_space(path)
    EnsembleTarget().check_names(space.names())
    space.check_features(RACE_FEATURE_NAMES)


def _run_block(number: int, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(folder)
    exec(compile(_blocks("python")[number], "docs/search.md", "exec"), {"__name__": "__main__"})


def test_the_python_example_runs_and_writes_the_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run_block(0, tmp_path, monkeypatch)
    assert (tmp_path / "temp" / "search" / "docs" / "search_results.json").exists()
    assert (tmp_path / "temp" / "search" / "docs" / "search_report.html").exists()
    assert os.path.exists(tmp_path / "temp" / "search" / "ledger.db")


def test_the_money_example_tunes_calibration_and_margin_on_roi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run_block(1, tmp_path, monkeypatch)
    results = read_results(tmp_path / "temp" / "search" / "money")
    assert results["metric"] == "roi_ev_win"
    assert {"calibration", "bet_margin"} <= set(results["chosen"]["params"])
