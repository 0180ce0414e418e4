"""The ``stagewise`` command.

The CLI only parses and prints: each command calls one library function. A
:class:`~stagewise.StagewiseError` (a user mistake) is printed as
``ErrorType: message`` on stderr with exit code 1, never as a traceback; see
:class:`_UserErrorGroup` for what every command gets at this boundary.
Command modules import heavy libraries inside their functions so that
``stagewise --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from stagewise._console import make_console, plain
from stagewise._exceptions import StagewiseError
from stagewise._version import __version__
from stagewise.cli._boundary import command_path, flag_names, in_cli_terms, refuse_blank_values

__all__ = ["app", "main"]


class _UserErrorGroup(TyperGroup):
    """The CLI boundary: a user mistake is one line on stderr and exit 1, in the command's own terms.

    A :class:`~stagewise.StagewiseError` prints as ``ErrorType: message``, with the Python
    parameter names of the message replaced by the command's flags (``end_date`` ->
    ``--end-date``) and the text escaped (it is never console markup). An ``OSError`` (a full
    disk, a missing directory, a denied permission) is the environment, not a bug: one line too.
    Every text option of every command refuses a blank value.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        refuse_blank_values(self)

    def invoke(self, ctx: Any) -> Any:  # typer vendors its own click Context type
        command = command_path(self, [*ctx._protected_args, *ctx.args])
        try:
            return super().invoke(ctx)
        except (StagewiseError, OSError) as exc:
            message = str(exc) if command is None else in_cli_terms(str(exc), flag_names(command))
            make_console(stderr=True).print(f"[bold red]{type(exc).__name__}[/]: {plain(message)}")
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
    from stagewise.cli import mlflow as mlflow_cli
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
    app.add_typer(mlflow_cli.app, name="mlflow")


_register()


def main() -> None:
    """Entry point of the ``stagewise`` console script."""
    app()
