"""What every command gets at the CLI boundary, whoever wrote it and whenever it was added.

- :func:`command_path` finds the command a command line runs, so that an error can be told in
  that command's terms;
- :func:`in_cli_terms` rewrites a library message naming a Python parameter (``end_date``,
  ``The 'days' parameter``) to name the command's flag (``--end-date``, ``--days``);
- :func:`refuse_blank_values` makes every text option and argument refuse a blank value
  (no name, reason, path or URL in stagewise is blank), and every ``seed`` one a seed NumPy
  would refuse, with click's usual exit status 2.

The root group in :mod:`stagewise.cli.main` applies all three to the whole command tree, so a
command added later is covered without doing anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import PurePath
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

__all__ = ["command_path", "flag_names", "in_cli_terms", "refuse_blank_values", "walk_commands"]

Command = Any  # typer vendors click: its Command type is not part of typer's public API

SEED_MAX = 2**32 - 1
"""Largest random seed NumPy accepts; every ``--seed`` of every command is checked against it."""

# "The 'days' parameter", "The 'seed' option of ProductionEnsemble", "The 'salt' must", "'stage' must"
_PHRASES = (
    re.compile(r"\bThe '(?P<name>\w+)' (?:parameter|option)(?: of \w+)?"),
    re.compile(r"(?:\bThe )?'(?P<name>\w+)'(?= must\b)"),
)
# a bare snake_case identifier such as end_date (a one-word name is too likely to be prose: "7 days")
_IDENTIFIER = re.compile(r"(?<![\w.'\-])(?P<name>[a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w'(\-])")


def walk_commands(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    """Every runnable command under ``command`` with the words that invoke it, in --help order."""
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from walk_commands(sub, (*path, name))
    else:
        yield path, command


def command_path(root: TyperGroup, args: list[str]) -> Command | None:
    """The command ``args`` (the words after the program name) run, or None for a group alone."""
    command: Command = root
    for word in args:
        if not isinstance(command, TyperGroup):
            break
        command = command.commands.get(word)
        if command is None:
            return None
    return None if isinstance(command, TyperGroup) else command


def flag_names(command: Command) -> dict[str, str]:
    """Python parameter name -> what the user types: ``{"end_date": "--end-date", "feature": "FEATURE"}``."""
    names: dict[str, str] = {}
    for param in command.params:
        if isinstance(param, TyperOption):
            longs = [o for o in param.opts if o.startswith("--")] or list(param.opts)
            names[param.name] = max(longs, key=len)
        elif isinstance(param, TyperArgument):
            names[param.name] = param.metavar or param.name.upper()
    return names


def in_cli_terms(message: str, flags: dict[str, str]) -> str:
    """``message`` with each Python parameter name of the command replaced by its flag."""

    def flag(match: re.Match[str]) -> str:
        return flags.get(match.group("name"), match.group(0))

    for phrase in _PHRASES:
        message = phrase.sub(flag, message)
    return _IDENTIFIER.sub(flag, message)


def _is_blank(value: Any) -> bool:
    if isinstance(value, (str, PurePath)):
        return not str(value).strip()
    if isinstance(value, (list, tuple)):
        return any(_is_blank(v) for v in value)
    return False


def _raw_non_blank(param: Any) -> None:
    # a Path turns "" into "." before any callback sees it, so the raw value is checked
    convert = param.process_value

    def process_value(ctx: Any, value: Any) -> Any:
        if _is_blank(value):
            raise typer.BadParameter("must not be blank.", ctx=ctx, param=param)
        return convert(ctx, value)

    param.process_value = process_value


def _seed_in_range(previous: Callable[..., Any] | None) -> Callable[..., Any]:
    def check(ctx: Any, param: Any, value: Any) -> Any:
        if value is not None and not 0 <= value <= SEED_MAX:
            raise typer.BadParameter(
                f"a seed must be an int in 0..{SEED_MAX}. Got {value}.", ctx=ctx, param=param
            )
        return previous(ctx, param, value) if previous is not None else value

    return check


def refuse_blank_values(root: TyperGroup) -> None:
    """Every text or path parameter refuses a blank value; every ``seed`` one a value NumPy refuses."""
    for _path, command in walk_commands(root):
        for param in command.params:
            annotation = param.type_descriptor.annotation
            if "str" in str(annotation) or "Path" in str(annotation):
                _raw_non_blank(param)
            elif param.name == "seed" and annotation is int:
                param.callback = _seed_in_range(param.callback)
