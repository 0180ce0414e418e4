"""The CLI reference (``docs/cli.md``), rendered from the commands themselves.

``python -m stagewise.cli.reference > docs/cli.md`` (or ``make docs``) walks the command tree of
:data:`stagewise.cli.main.app` and writes every command and sub-command with its usage line, its
help text, and its arguments and options with their types and defaults. The reference therefore
says what ``--help`` says, and ``tests/cli/test_cli_reference.py`` fails when the committed file
is older than the commands.

The output depends on nothing but the commands: no terminal width, no colours, no rich markup.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePath
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

__all__ = ["REGENERATE", "render_reference"]

REGENERATE = ".venv/bin/python -m stagewise.cli.reference > docs/cli.md"
"""The command that rewrites ``docs/cli.md`` (``make docs`` runs it)."""

_CODE_SPAN = re.compile(r"(`+[^`]*`+)")


@dataclass(frozen=True, slots=True)
class _Entry:
    """One command (or group) of the tree, with the context its parameters are read in."""

    path: tuple[str, ...]
    command: Any  # typer vendors its own click Command type
    ctx: Any  # ... and Context type


def _walk(command: Any, path: tuple[str, ...], parent: Any = None) -> Iterator[_Entry]:
    ctx = command.context_class(command, info_name=path[-1], parent=parent)
    yield _Entry(path, command, ctx)
    if isinstance(command, TyperGroup):
        for name in command.list_commands(ctx):
            sub = command.commands[name]
            if not sub.hidden:
                yield from _walk(sub, (*path, name), ctx)


def _escape(text: str, *, in_table: bool = False) -> str:
    """Escape what Markdown would otherwise swallow (``<version>``) or format (``*``), outside code spans."""
    parts = _CODE_SPAN.split(text)
    for i in range(0, len(parts), 2):  # even positions are outside code spans
        plain = parts[i].replace("\\", "\\\\").replace("*", "\\*").replace("<", "&lt;")
        parts[i] = plain.replace("|", "\\|") if in_table else plain
    out = "".join(parts)
    return out.replace("\n", " ") if in_table else out


def _help_text(command: Any) -> str:
    raw = inspect.cleandoc(command.help or "").split("\f")[0]  # click: text after \f is not shown
    lines = [line for line in raw.splitlines() if line.strip() != "\b"]
    return _escape("\n".join(lines).strip())


def _summary(command: Any) -> str:
    text = command.short_help or inspect.cleandoc(command.help or "").split("\f")[0]
    first_paragraph = text.strip().split("\n\n")[0]
    return " ".join(first_paragraph.split())


def _anchor(path: tuple[str, ...]) -> str:
    return "-".join(path)


def _usage(entry: _Entry) -> str:
    pieces = [" ".join(entry.path)]
    params = [p for p in entry.command.get_params(entry.ctx) if not p.hidden]
    if any(isinstance(p, TyperOption) for p in params):
        pieces.append("[OPTIONS]")
    for param in params:
        if isinstance(param, TyperArgument):
            name = _argument_name(param)
            pieces.append(name if param.required else f"[{name}]")
    if isinstance(entry.command, TyperGroup):
        pieces.append("COMMAND [ARGS]...")
    return " ".join(pieces)


def _argument_name(param: TyperArgument) -> str:
    name = (param.metavar or param.name or "").upper()
    return f"{name}..." if param.nargs != 1 else name


def _type(param: TyperArgument | TyperOption, ctx: Any) -> str:
    if isinstance(param, TyperOption) and param.is_flag:
        return "flag"
    if param.metavar is not None and isinstance(param, TyperOption):
        return param.metavar
    label = param.display_type(ctx).removeprefix("<").removesuffix(">").removesuffix(" range")
    if param.multiple:
        label += " (repeatable)"
    return label


def _plain(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _default(param: TyperArgument | TyperOption, ctx: Any) -> str:
    if param.required:
        return "required"
    default = param.get_default(ctx, call=False)
    if callable(default):
        return "(computed)"
    if isinstance(param, TyperOption) and param.is_flag:
        if param.secondary_opts:
            return f"`{param.opts[0] if default else param.secondary_opts[0]}`"
        return "on" if default else "off"
    if default is None or default == () or default == []:
        return "—"
    return f"`{_plain(default)}`"


def _description(param: TyperArgument | TyperOption) -> str:
    parts = [inspect.cleandoc(param.help or "")]
    if param.min is not None or param.max is not None:
        low = "" if param.min is None else f"{param.min} ≤ "
        high = "" if param.max is None else f" ≤ {param.max}"
        parts.append(f"Range: {low}value{high}.")
    if param.envvar:
        names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar)
        parts.append("Environment: " + ", ".join(f"`{n}`" for n in names) + ".")
    return _escape(" ".join(p for p in parts if p), in_table=True)


def _options_name(param: TyperOption) -> str:
    names = ", ".join(f"`{o}`" for o in param.opts)
    if param.secondary_opts:
        names += " / " + ", ".join(f"`{o}`" for o in param.secondary_opts)
    return names


def _param_tables(entry: _Entry) -> list[str]:
    help_option = entry.command.get_help_option(entry.ctx)
    params = [
        p
        for p in entry.command.get_params(entry.ctx)
        if not p.hidden and p is not help_option and isinstance(p, (TyperArgument, TyperOption))
    ]
    out: list[str] = []
    arguments = [p for p in params if isinstance(p, TyperArgument)]
    options = [p for p in params if isinstance(p, TyperOption)]
    if arguments:
        out += ["| argument | type | default | description |", "|---|---|---|---|"]
        for arg in arguments:
            cells = [f"`{_argument_name(arg)}`", _type(arg, entry.ctx), _default(arg, entry.ctx)]
            out.append(_row([*cells, _description(arg)]))
        out.append("")
    if options:
        out += ["| option | type | default | description |", "|---|---|---|---|"]
        for opt in options:
            cells = [_options_name(opt), _type(opt, entry.ctx), _default(opt, entry.ctx)]
            out.append(_row([*cells, _description(opt)]))
        out.append("")
    return out


def _row(cells: list[str]) -> str:
    # The description is escaped already; a choice type such as markets|races needs its pipes escaped.
    *generated, description = cells
    return "| " + " | ".join([*(c.replace("|", "\\|") for c in generated), description]) + " |"


def _section(entry: _Entry) -> list[str]:
    level = "#" * min(max(len(entry.path), 2), 4)  # stagewise and its commands ##, sub-commands ###
    out = [f"{level} `{' '.join(entry.path)}`", ""]
    out += ["```text", _usage(entry), "```", ""]
    text = _help_text(entry.command)
    if text:
        out += [text, ""]
    if entry.command.deprecated:
        out += ["*Deprecated.*", ""]
    if isinstance(entry.command, TyperGroup) and len(entry.path) > 1:  # the page's index lists the root's
        subs = [(name, entry.command.commands[name]) for name in entry.command.list_commands(entry.ctx)]
        out += ["| sub-command | what it does |", "|---|---|"]
        for name, sub in subs:
            if not sub.hidden:
                link = f"[`{name}`](#{_anchor((*entry.path, name))})"
                out.append(f"| {link} | {_escape(_summary(sub), in_table=True)} |")
        out.append("")
    out += _param_tables(entry)
    return out


def render_reference(app: typer.Typer | None = None) -> str:
    """Render the Markdown reference of every ``stagewise`` command.

    Parameters
    ----------
    app : typer.Typer, optional
        The application to document (default: :data:`stagewise.cli.main.app`).

    Returns
    -------
    str
        The whole page, ending with one newline; the same commands always give the same text.

    Examples
    --------
    >>> page = render_reference()
    >>> page.startswith("# CLI reference")
    True
    >>> "## `stagewise backtest`" in page and "`--train-days`" in page
    True
    """
    if app is None:
        from stagewise.cli.main import app as stagewise_app

        app = stagewise_app
    root = typer.main.get_command(app)
    name = root.name or "stagewise"
    entries = list(_walk(root, (name,)))
    lines = [
        "# CLI reference",
        "",
        "<!-- Generated from the commands by `python -m stagewise.cli.reference`; do not edit by hand.",
        f"     Regenerate with `make docs` ({REGENERATE}). -->",
        "",
        f"Every command below is part of `{name}` and accepts `--help`, which prints the same text. A user",
        "mistake prints one line, `ErrorType: message`, on stderr and exits with status 1.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for entry in entries[1:]:
        link = f"[`{' '.join(entry.path)}`](#{_anchor(entry.path)})"
        lines.append(f"| {link} | {_escape(_summary(entry.command), in_table=True)} |")
    lines.append("")
    for entry in entries:
        lines += _section(entry)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    """Print the reference to standard output (``make docs`` redirects it to ``docs/cli.md``)."""
    sys.stdout.write(render_reference())


if __name__ == "__main__":
    main()
