"""The one place stagewise makes a rich Console, and the escaping of text that is not markup.

Lines of text are never wrapped by rich (soft wrap: a terminal folds them visually, a pipe
keeps them whole, so a path or a demo line stays greppable). Tables fit the terminal's width
on a terminal. Anywhere else (a pipe, a file, CI logs) rich would assume 80 columns and
truncate table columns; here such output gets no width limit at all. An explicit ``COLUMNS``
still sets the width of tables: whoever sets it asked for that width.

User text and error text (paths, reasons, messages quoting a regular expression such as
``^[a-z]{0,63}$``) must never be read as console markup: pass it through :func:`plain`,
or print it with ``markup=False``.
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.markup import escape
from rich.text import Text

__all__ = ["UNLIMITED_WIDTH", "cell", "make_console", "plain"]

UNLIMITED_WIDTH = 10_000
"""Width given to a console that does not write to a terminal (no line is that long)."""


def make_console(*, stderr: bool = False) -> Console:
    """A console for one command run: the terminal's width on a terminal, no wrapping elsewhere.

    Made per call (not at import) so that it sees this run's stdout/stderr and ``COLUMNS``.
    """
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(stderr=stderr, highlight=False, soft_wrap=True, width=UNLIMITED_WIDTH)
    return console


def plain(value: object) -> str:
    """``value`` as text that rich prints literally inside a markup string."""
    return escape(str(value))


def cell(value: object) -> Text:
    """A table cell holding ``value`` literally (a str cell would be parsed as markup)."""
    return Text(str(value))
