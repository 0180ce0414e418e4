"""One way to open a ledger for reading: a missing one is the same one-line error, naming the path,
whichever reader asks (the library, the dashboard, ``stagewise check``, the CLI), and nothing is created."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stagewise._exceptions import NotFoundError
from stagewise.cli.main import app
from stagewise.monitor import PerformanceMonitor


def _dashboard(db: str) -> object:
    from stagewise.dashboard.data import open_monitor

    return open_monitor(db)


def _check(db: str) -> object:
    from stagewise.check.state import open_ledger

    return open_ledger(db)


def _library(db: str) -> object:
    return PerformanceMonitor.open_for_reading(db)


READERS: dict[str, Callable[[str], object]] = {"library": _library, "dashboard": _dashboard, "check": _check}


def _message(db: str, option: str = "--db") -> str:
    return (
        f"The ledger {db!r} does not exist; log predictions first (`stagewise serve`, or `stagewise demo` "
        f"for a complete example), or point {option} at the ledger."
    )


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("spelling", ["path", "url"])
def test_every_reader_names_a_missing_ledger_the_same_way_and_creates_nothing(
    tmp_path: Path, reader: str, spelling: str
) -> None:
    path = tmp_path / "nowhere" / "monitor.db"
    db = str(path) if spelling == "path" else f"sqlite:///{path}"
    with pytest.raises(NotFoundError) as info:
        READERS[reader](db)
    assert str(info.value) == _message(db)
    assert not (tmp_path / "nowhere").exists()


def test_check_validate_reports_the_same_message(tmp_path: Path) -> None:
    from stagewise.check.state import ledger_checks

    db = str(tmp_path / "monitor.db")
    [result] = ledger_checks(db)
    assert not result.ok
    assert result.detail == _message(db)
    assert not (tmp_path / "monitor.db").exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["monitor", "trend", "--db"], "--db"),
        (["rollout", "auto", "challenger_model", "--config", "{config}", "--ledger"], "--ledger"),
    ],
    ids=["monitor-trend", "rollout-auto"],
)
def test_the_cli_prints_the_same_one_line_error(tmp_path: Path, args: list[str], option: str) -> None:
    config = tmp_path / "rollout_config.json"
    from stagewise.rollout import GradualRollout

    GradualRollout(config, actor="test").add_feature("challenger_model", "10%", reason="test")
    db = str(tmp_path / "missing.db")
    result = CliRunner().invoke(app, [a.replace("{config}", str(config)) for a in args] + [db])
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == f"NotFoundError: {_message(db, option)}"
    assert "Traceback" not in result.output
    assert not Path(db).exists()
