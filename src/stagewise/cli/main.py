"""The ``stagewise`` command.

The CLI only parses and prints: each command calls one library function. A
:class:`~stagewise.StagewiseError` (a user mistake) is printed as
``ErrorType: message`` on stderr with exit code 1, never as a traceback.
Command modules import heavy libraries inside their functions so that
``stagewise --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from stagewise._exceptions import StagewiseError
from stagewise._version import __version__

__all__ = ["app", "main"]

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class _UserErrorGroup(TyperGroup):
    """Turns every StagewiseError raised by a sub-command into a one-line message."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors its own click Context type
        try:
            return super().invoke(ctx)
        except StagewiseError as exc:
            err_console.print(f"[bold red]{type(exc).__name__}[/]: {exc}", markup=True)
            raise SystemExit(1) from None


app = typer.Typer(
    cls=_UserErrorGroup,
    name="stagewise",
    help="Take prediction models on time-ordered events safely into production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"stagewise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """stagewise: walk-forward backtests, a pickle-free registry, a prediction ledger and gradual rollout."""


def _register() -> None:
    # Each command group lives in its own module; registration order is the --help order.
    from stagewise.cli import backtest as backtest_cli
    from stagewise.cli import check as check_cli
    from stagewise.cli import dashboard as dashboard_cli
    from stagewise.cli import data as data_cli
    from stagewise.cli import demo as demo_cli
    from stagewise.cli import models as models_cli
    from stagewise.cli import monitor as monitor_cli
    from stagewise.cli import ops as ops_cli
    from stagewise.cli import rollout as rollout_cli
    from stagewise.cli import search as search_cli
    from stagewise.cli import serve as serve_cli
    from stagewise.cli import train as train_cli

    app.command("train")(train_cli.train)
    app.command("demo")(demo_cli.demo)

    app.add_typer(data_cli.app, name="data")
    app.command("backtest")(backtest_cli.backtest)
    app.command("search")(search_cli.search)
    app.command("search-register")(search_cli.register)
    app.add_typer(models_cli.app, name="models")
    app.add_typer(monitor_cli.app, name="monitor")
    app.add_typer(rollout_cli.app, name="rollout")
    app.command("serve")(serve_cli.serve)
    app.command("dashboard")(dashboard_cli.dashboard)
    app.add_typer(check_cli.app, name="check")
    app.add_typer(ops_cli.app, name="ops")


_register()


def main() -> None:
    """Entry point of the ``stagewise`` console script."""
    app()
