"""How the demo tells its story: numbered steps with a sentence of why, notes, and progress bars.

:func:`~stagewise.lifecycle.demo.run_demo` talks to a :class:`DemoProgress`; the library default
(:class:`TextProgress`) prints plain lines, ``stagewise demo`` uses :class:`RichProgress` (rich
progress bars), and tests pass :class:`TextProgress` with a list's ``append``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from stagewise._console import make_console, plain

__all__ = ["DemoProgress", "RichProgress", "TextProgress"]


class DemoProgress(Protocol):
    """What the demo reports while it runs."""

    def step(self, number: int, total: int, title: str, why: str) -> None:
        """A new step begins: its title and one or two sentences on what happens and why."""

    def note(self, text: str) -> None:
        """A result worth a line (a score, a day's decision, a received notification)."""

    def start(self, label: str, total: int) -> None:
        """A bar of ``total`` units begins (replaces any running bar)."""

    def advance(self, units: int = 1) -> None:
        """``units`` more are done on the running bar."""

    def finish(self) -> None:
        """The running bar is complete."""


class TextProgress:
    """Plain lines through ``write`` (default :func:`print`); bars become start/finish lines.

    Examples
    --------
    >>> lines = []
    >>> p = TextProgress(lines.append)
    >>> p.step(1, 6, "Simulate", "Races to learn from.")
    >>> p.start("replaying", 3); p.advance(3); p.finish()
    >>> lines
    ['[1/6] Simulate: Races to learn from.', '      replaying: 3/3 done']
    """

    def __init__(self, write: Callable[[str], Any] = print) -> None:
        self._write = write
        self._label = ""
        self._done = 0
        self._total = 0

    def step(self, number: int, total: int, title: str, why: str) -> None:
        self._write(f"[{number}/{total}] {title}: {why}")

    def note(self, text: str) -> None:
        self._write(f"      {text}")

    def start(self, label: str, total: int) -> None:
        self._label, self._done, self._total = label, 0, total

    def advance(self, units: int = 1) -> None:
        self._done += units

    def finish(self) -> None:
        if self._label:
            self._write(f"      {self._label}: {self._done}/{self._total} done")
        self._label = ""


class RichProgress:
    """Rich output for the terminal: bold step headers, dim notes, a live progress bar per long task.

    Use as a context manager so the live display is cleaned up even when the demo fails.
    """

    def __init__(self, console: Any | None = None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console or make_console()
        self._bars = Progress(
            TextColumn("      {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._task: Any = None

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()
        self._bars.stop()

    def step(self, number: int, total: int, title: str, why: str) -> None:
        self.finish()
        self.console.print(f"\n[bold cyan]\\[{number}/{total}] {plain(title)}[/]\n      {plain(why)}")

    def note(self, text: str) -> None:
        self.console.print(f"      {text}", markup=False)

    def start(self, label: str, total: int) -> None:
        self.finish()
        self._task = self._bars.add_task(label, total=total)

    def advance(self, units: int = 1) -> None:
        if self._task is not None:
            self._bars.advance(self._task, units)

    def finish(self) -> None:
        if self._task is not None:
            self._bars.remove_task(self._task)
            self._task = None
