"""``stagewise mlflow``: export a registry version to MLflow, import an MLflow model, log a backtest.

Needs the optional extra (``pip install 'stagewise[mlflow]'``); without it each command prints that
one line and exits 1. See docs/mlflow.md.
"""

from __future__ import annotations

from pathlib import Path

import typer

from stagewise.cli.models import ROOT, _registry

app = typer.Typer(
    help="MLflow interop without pickle (optional extra: pip install 'stagewise[mlflow]').",
    no_args_is_help=True,
)

RESULTS = typer.Argument(..., help="A backtest's output directory or its walkforward_results.json.")
TRACKING = typer.Option(
    ..., "--tracking-uri", help="MLflow tracking and registry URI, e.g. sqlite:///mlflow.db."
)


def export(
    ref: str = typer.Argument(..., help="Version id, 'production', 'latest' or an alias (e.g. champion)."),
    name: str = typer.Option(..., "--name", help="Registered model name in MLflow."),
    tracking_uri: str = TRACKING,
    alias: str | None = typer.Option(
        None, "--alias", help="MLflow alias (default: the version's own aliases)."
    ),
    root: str = ROOT,
) -> None:
    """Export a registry version as a models-from-code pyfunc (no pickle) and register it."""
    from stagewise.integrations.mlflow import export_version

    done = export_version(_registry(root), ref, tracking_uri, name, alias)
    aliases = ", ".join(done.aliases) or "none"
    typer.echo(f"Exported {done.stagewise_version} as {done.model_uri} (aliases: {aliases})")


def import_(
    model_uri: str = typer.Argument(..., help="MLflow model URI, e.g. models:/kyotei-win@champion."),
    tracking_uri: str = TRACKING,
    alias: str | None = typer.Option(None, "--alias", help="Point this stagewise alias at the new version."),
    root: str = ROOT,
) -> None:
    """Import an MLflow model whose format stagewise reads without pickle, as a new version."""
    from stagewise.integrations.mlflow import import_version
    from stagewise.models import ModelRegistry

    version = import_version(ModelRegistry(root), model_uri, tracking_uri, alias=alias)
    typer.echo(f"Imported {model_uri} as {version}")


def log_backtest(
    results: Path = RESULTS,
    tracking_uri: str = TRACKING,
    experiment: str = typer.Option("walkforward", "--experiment", help="MLflow experiment name."),
) -> None:
    """Log a walk-forward run: params, per-step metrics, the JSON/TXT/HTML reports."""
    from stagewise._exceptions import NotFoundError
    from stagewise.integrations.mlflow import log_walkforward

    if not results.exists():
        raise NotFoundError(f"RESULTS {str(results)!r} does not exist; pass a backtest's output directory.")
    run_id = log_walkforward(results, tracking_uri, experiment)
    typer.echo(f"Logged {results} as MLflow run {run_id}")


app.command("export")(export)
app.command("import")(import_)
app.command("log-backtest")(log_backtest)
