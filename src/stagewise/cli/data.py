"""``stagewise data``: make, load and check data sets."""

from __future__ import annotations

import typer

app = typer.Typer(help="Simulate, load and validate race and market data.", no_args_is_help=True)
