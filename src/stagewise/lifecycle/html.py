"""The small HTML vocabulary of the demo's pages: escaped cells, tables, relative links, percentages.

Both scenarios' tables and the index page are written with these, so a cell is escaped in one place.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["Raw", "escape", "link", "links", "number", "percent", "table"]


class Raw(str):
    """Markup that :func:`table` puts in a cell as it is (already escaped)."""


def escape(value: object) -> str:
    """``value`` as HTML text (None as empty); :class:`Raw` markup passes through.

    Examples
    --------
    >>> escape("a < b"), escape(None), escape(Raw("<b>x</b>"))
    ('a &lt; b', '', '<b>x</b>')
    """
    if isinstance(value, Raw):
        return str(value)
    return html.escape("" if value is None else str(value))


def table(header: Sequence[str], rows: Sequence[Sequence[object]], classes: Sequence[str] = ()) -> str:
    """An HTML table; ``classes[i]`` (when given and not empty) is the class of row ``i``."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def link(target: Path, base: Path, text: str) -> Raw:
    """A link to ``target`` relative to the page's directory ``base``."""
    return Raw(f'<a href="{escape(os.path.relpath(target, base))}">{escape(text)}</a>')


def links(outputs: Mapping[str, str | None], base: Path) -> Raw:
    """Links to a backtest's outputs (``{kind: path}``), the missing ones left out."""
    return Raw(" · ".join(link(Path(p), base, kind) for kind, p in outputs.items() if p is not None))


def percent(value: float | None) -> str:
    """A share as ``"12.3%"``; a missing or NaN value as a dash.

    Examples
    --------
    >>> percent(0.1234), percent(None), percent(float("nan"))
    ('12.3%', '—', '—')
    """
    return "—" if value is None or value != value else f"{float(value):.1%}"


def number(value: float | None, spec: str = ".3f") -> str:
    """``value`` formatted by ``spec``; a missing or NaN value as a dash."""
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)
