"""``stagewise dashboard``: start the Streamlit dashboard on the CLI's database and files.

The settings reach the app as ``STAGEWISE_DASHBOARD_*`` environment variables; Streamlit runs
headless, without usage statistics, and replaces this process (Ctrl-C stops it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

HOST = typer.Option("127.0.0.1", "--host", help="Interface to bind (0.0.0.0 for every interface).")
PORT = typer.Option(8501, "--port", help="TCP port.")
WORKDIR = typer.Option(
    Path("."), "--workdir", help="Deployment directory (e.g. a demo's); the defaults below are inside it."
)
DB = typer.Option(
    None, "--db", help="Monitor ledger: SQLAlchemy URL or SQLite file (default WORKDIR/data/monitor.db)."
)
CONFIG = typer.Option(
    None,
    "--config",
    help="Rollout config JSON or a database URL (default WORKDIR/config/rollout_config.json).",
)
MODELS = typer.Option(None, "--models", help="Model registry directory (default WORKDIR/models).")
BACKTEST_DIR = typer.Option(
    None,
    "--backtest-dir",
    help="Directory searched for walkforward_results.json (default WORKDIR/backtest if it exists, "
    "else WORKDIR/temp/walkforward).",
)


def streamlit_argv(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line for the dashboard app (headless, no telemetry)."""
    app_path = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    return [
        sys.executable, "-m", "streamlit", "run", str(app_path),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.address", host,
        "--server.port", str(port),
        "--server.fileWatcherType", "none",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip


def dashboard(
    workdir: Path = WORKDIR,
    db: str | None = DB,
    config: str | None = CONFIG,
    models: Path | None = MODELS,
    backtest_dir: Path | None = BACKTEST_DIR,
    host: str = HOST,
    port: int = PORT,
) -> None:
    """Start the Streamlit dashboard: accuracy trends, alerts, rollout, backtests, drift, registry.

    Example: stagewise dashboard --workdir stagewise-demo/run-20261203T101500
    """
    from stagewise._exceptions import ConfigError
    from stagewise.cli._ports import check_port
    from stagewise.dashboard.data import DashboardSettings

    check_port(host, port)
    if not workdir.is_dir():
        raise ConfigError(f"--workdir {str(workdir)!r} is not a directory; point it at a deployment or demo.")
    settings = DashboardSettings.under(
        workdir,
        db=db,
        config=config,
        models=None if models is None else str(models),
        backtest_dir=None if backtest_dir is None else str(backtest_dir),
    )
    env = {**os.environ, **settings.to_env(), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    argv = streamlit_argv(host, port)
    typer.echo(
        f"stagewise dashboard: http://{host}:{port} (ledger {settings.db}, rollout {settings.config}, "
        f"models {settings.models}, backtests {settings.backtest_dir})"
    )
    sys.stdout.flush()
    os.execve(argv[0], argv, env)
