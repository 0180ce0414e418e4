"""docs/cli.md is generated from the commands, and says what they do now."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pytest
import typer

from stagewise.cli.reference import REGENERATE, render_reference

DOCS_CLI = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_docs_cli_md_matches_the_commands() -> None:
    expected = render_reference()
    current = DOCS_CLI.read_text(encoding="utf-8") if DOCS_CLI.exists() else ""
    if current != expected:
        diff = difflib.unified_diff(
            current.splitlines(), expected.splitlines(), "docs/cli.md", "generated now", lineterm="", n=1
        )
        shown = "\n".join(list(diff)[:40])
        pytest.fail(
            f"docs/cli.md differs from what the commands say now. Regenerate it with `make docs` "
            f"(or `{REGENERATE}`) and commit it.\n{shown}"
        )


class Colour(StrEnum):
    red = "red"
    blue = "blue"


def _probe_app() -> typer.Typer:
    app = typer.Typer(name="probe", help="A probe application.", add_completion=False)
    group = typer.Typer(help="Things with parts.\n\nMore about the group.")

    @group.command("paint")
    def paint(
        items: Annotated[list[str], typer.Argument(help="What to paint.")],
        colour: Annotated[Colour, typer.Option(help="Paint colour.")] = Colour.blue,
        coats: Annotated[int, typer.Option(min=1, max=5, help="How many.")] = 2,
        out: Annotated[Path, typer.Option(help="Written to ROOT/<version>/.")] = Path("out/dir"),
        dry: Annotated[bool, typer.Option("--dry/--wet", help="Pretend.")] = True,
        loud: Annotated[bool, typer.Option("--loud", "-l", help="Shout *twice*.")] = False,
        secret: Annotated[str, typer.Option(hidden=True)] = "x",
        reason: Annotated[str, typer.Option(help="Why | how.")] = ...,  # type: ignore[assignment]
    ) -> None:
        """Paint ITEMS.

        - one coat dries in an hour;
        - see ``stagewise --help``.
        """

    @app.command("hello")
    def hello(name: Annotated[str | None, typer.Argument(help="Who.")] = None) -> None:
        """Say hello."""

    app.add_typer(group, name="parts")
    return app


def test_reference_shows_every_command_argument_option_type_and_default() -> None:
    page = render_reference(_probe_app())
    assert page.startswith("# CLI reference\n")
    assert "| [`probe parts paint`](#probe-parts-paint) | Paint ITEMS. |" in page
    assert "### `probe parts paint`" in page
    assert "```text\nprobe parts paint [OPTIONS] ITEMS...\n```" in page
    assert "```text\nprobe hello [OPTIONS] [NAME]\n```" in page
    assert "- one coat dries in an hour;\n- see ``stagewise --help``." in page
    assert "| `ITEMS...` | list[str] | required | What to paint. |" in page
    assert "| `--colour` | red\\|blue | `blue` | Paint colour. |" in page
    assert "| `--coats` | int | `2` | How many. Range: 1 ≤ value ≤ 5. |" in page
    assert "| `--out` | path | `out/dir` | Written to ROOT/&lt;version>/. |" in page
    assert "| `--dry` / `--wet` | flag | `--dry` | Pretend. |" in page
    assert "| `--loud`, `-l` | flag | off | Shout \\*twice\\*. |" in page
    assert "| `--reason` | str | required | Why \\| how. |" in page
    assert "secret" not in page
    assert "| `--help`" not in page  # said once, above the index, not in every table


def test_reference_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("FORCE_COLOR", "1")
    narrow = render_reference()
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.setenv("NO_COLOR", "1")
    wide = render_reference()
    assert narrow == wide
    assert "\x1b[" not in narrow
    assert "[bold" not in narrow
    assert "[/]" not in narrow


def test_module_prints_the_reference() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stagewise.cli.reference"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
        env={
            "COLUMNS": "20",
            "PATH": "/usr/bin:/bin",
            "PYTHONIOENCODING": "utf-8",
            **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},  # a worktree's own sources
        },
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == render_reference()
