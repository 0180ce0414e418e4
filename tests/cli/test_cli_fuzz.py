"""Fuzz every command with bad input: one line on stderr, exit 1 or 2, never a traceback.

The commands are found by walking the command tree, so a command added later is fuzzed too.
Each invocation gives one parameter a value that no command may accept (a negative, NaN or
astronomically large number, a blank text, a choice that does not exist); the others keep
their defaults, and required ones get a plausible value. The commands run in a scratch
directory that holds a small deployment (a rollout config and a ledger), so they get past
"file not found" and reach their own checks.

A server or the dashboard must never start on bad input: ``uvicorn.run`` and ``os.execve``
fail the test instead of starting one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from stagewise.cli._boundary import walk_commands
from stagewise.cli.main import app

runner = CliRunner()

ROOT = typer.main.get_command(app)
COMMANDS = {" ".join(path): command for path, command in walk_commands(ROOT)}

BAD_INT = ["-2", "1.5"]
BAD_FLOAT = ["nan", "-2"]
BAD_TEXT = ["", "   "]
BAD_CHOICE = ["no-such-choice"]

# a value for a required parameter, by name; anything else gets "challenger_model"
PLAUSIBLE = {
    "stage": "10%",
    "reason": "fuzz",
    "date": "2025-04-10",
    "start": "2025-04-01",
    "end": "2025-04-10",
    "ref": "latest",
    "race_ids": "R1",
    "path": "data/races.parquet",
    "output": "out/bars.parquet",
}


def _annotation(param: Any) -> str:
    return str(param.type_descriptor.annotation)


def _bad_values(param: Any) -> list[str]:
    annotation = _annotation(param)
    if param.type_descriptor.is_choice or "enum" in annotation:
        return BAD_CHOICE
    if "int" in annotation:
        return BAD_INT
    if "float" in annotation:
        return BAD_FLOAT
    return BAD_TEXT


def _fuzzable(command: Any) -> list[Any]:
    return [p for p in command.params if not getattr(p, "is_flag", False) and not p.is_eager]


def _words(param: Any, value: str) -> list[str]:
    if param.param_type_name == "argument":
        return [value]
    return [max((o for o in param.opts if o.startswith("--")), key=len), value]


def command_line(name: str, bad: Any, value: str) -> list[str]:
    """``name`` with ``bad`` set to ``value`` and every other required parameter plausible."""
    args = name.split()
    for param in COMMANDS[name].params:
        if param is bad:
            args += _words(param, value)
        elif param.required:
            args += _words(param, PLAUSIBLE.get(param.name, "challenger_model"))
    return args


CASES = [
    (name, param.name, value)
    for name, command in COMMANDS.items()
    for param in _fuzzable(command)
    for value in _bad_values(param)
]


def _no_server(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("bad input started a server")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch deployment: a rollout config with the demo's feature and a ledger with one race day."""
    from stagewise.monitor import PerformanceMonitor
    from stagewise.rollout import GradualRollout

    root = tmp_path_factory.mktemp("deployment")
    with GradualRollout(root / "config" / "rollout_config.json", refresh_interval=0) as rollout:
        rollout.add_feature("challenger_model", "10%", reason="fuzz fixture")
    (root / "data").mkdir()
    with PerformanceMonitor(root / "data" / "monitor.db"):
        pass
    return root


@contextlib.contextmanager
def _inside(directory: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def assert_refused(
    args: list[str], directory: Path, monkeypatch: pytest.MonkeyPatch, exit_codes: tuple[int, ...] = (1, 2)
) -> None:
    """No traceback, and one of ``exit_codes`` (refused: 1 for a user error, 2 for a bad option)."""
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", _no_server)
    monkeypatch.setattr(os, "execve", _no_server)
    with _inside(directory):
        result = runner.invoke(app, args)
    shown = f"stagewise {' '.join(args)!r}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{shown}\n{type(result.exception).__name__}: {result.exception}"
    )
    assert "Traceback" not in result.output, shown
    assert result.exit_code in exit_codes, shown


def test_every_command_is_fuzzed() -> None:
    """The tree walk sees every group's commands (a new command needs nothing to be covered)."""
    assert {"monitor trend", "rollout status", "models list", "check status", "serve", "demo"} <= set(
        COMMANDS
    )
    assert all(_fuzzable(command) for command in COMMANDS.values())


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=st.sampled_from(CASES))
def test_bad_input_is_refused_in_one_line(
    case: tuple[str, str, str], deployment: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    name, param_name, value = case
    bad = next(p for p in COMMANDS[name].params if p.name == param_name)
    scratch = tmp_path / "run"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(deployment, scratch)
    assert_refused(command_line(name, bad, value), scratch, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "param_name", "value"), CASES)
def test_every_bad_value_of_every_parameter_is_refused(
    name: str, param_name: str, value: str, deployment: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = next(p for p in COMMANDS[name].params if p.name == param_name)
    shutil.copytree(deployment, tmp_path / "run")
    assert_refused(command_line(name, bad, value), tmp_path / "run", monkeypatch)
