"""``stagewise data``: make, load and check data sets."""

from __future__ import annotations

import typer

from stagewise.cli import data_bars, data_races

app = typer.Typer(help="Simulate, load and validate race and market data.", no_args_is_help=True)

# Market bars (stagewise.data.markets); the commands live in cli/data_bars.py.
app.command("bars")(data_bars.bars)
app.command("check-bars")(data_bars.check_bars)

# Race data (stagewise.data.races); the commands live in cli/data_races.py.
app.command("simulate")(data_races.simulate)
app.command("check")(data_races.check)
