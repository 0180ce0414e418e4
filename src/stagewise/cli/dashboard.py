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
DB = typer.Option("data/monitor.db", "--db", help="Monitor ledger: SQLAlchemy URL or SQLite file.")
CONFIG = typer.Option(
    "config/rollout_config.json", "--config", help="Rollout config JSON (or a database URL)."
)
MODELS = typer.Option(Path("models"), "--models", help="Model registry directory.")
BACKTEST_DIR = typer.Option(
    Path("temp/walkforward"),
    "--backtest-dir",
    help="Directory searched for walkforward_results.json (the backtest's --output-dir or a parent).",
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
    db: str = DB,
    config: str = CONFIG,
    models: Path = MODELS,
    backtest_dir: Path = BACKTEST_DIR,
    host: str = HOST,
    port: int = PORT,
) -> None:
    """Start the Streamlit dashboard: accuracy trends, alerts, rollout, backtests, drift, registry."""
    from stagewise.cli._ports import check_port
    from stagewise.dashboard.data import DashboardSettings

    check_port(host, port)
    settings = DashboardSettings(db=db, config=config, models=str(models), backtest_dir=str(backtest_dir))
    env = {**os.environ, **settings.to_env(), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    argv = streamlit_argv(host, port)
    typer.echo(f"stagewise dashboard: http://{host}:{port} (ledger {db}, rollout {config}, models {models})")
    sys.stdout.flush()
    os.execve(argv[0], argv, env)
