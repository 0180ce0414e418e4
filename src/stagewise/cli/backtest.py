"""``stagewise backtest``: a leakage-safe walk-forward backtest of the default ensemble.

Examples::

    stagewise data simulate --start 2025-10-01 --end 2025-11-17 --output data/races.parquet
    stagewise backtest --domain races --data data/races.parquet --start 2025-11-01 --end 2025-11-17 \\
        --train-days 14 --test-days 3 --step-days 3 --output-dir temp/walkforward/test
    stagewise backtest --domain markets --start 2017-10-01 --end 2017-12-31 --train-days 60 \\
        --test-days 7 --step-days 7 --output-dir temp/walkforward/eurusd     # bundled EURUSD bars
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from stagewise._exceptions import ConfigError

__all__ = ["backtest"]

_FLAGS = {
    "strategy": "--bets",
    "margin": "--bet-margin",
    "kelly_fraction": "--kelly-fraction",
    "kelly_cap": "--kelly-cap",
}


def backtest(
    start: Annotated[str, typer.Option("--start", help="First test day, e.g. 2025-11-01.")],
    end: Annotated[str, typer.Option("--end", help="Last day evaluated (included), e.g. 2025-11-17.")],
    domain: Annotated[str, typer.Option("--domain", help="races or markets.")] = "races",
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Race or bar file (CSV/Parquet). Markets default to the bundled EURUSD hourly bars.",
        ),
    ] = None,
    train_days: Annotated[
        int, typer.Option("--train-days", help="Days of training before each test window.")
    ] = 14,
    test_days: Annotated[int, typer.Option("--test-days", help="Days in each test window.")] = 3,
    step_days: Annotated[
        int, typer.Option("--step-days", help="Days between the starts of two test windows.")
    ] = 3,
    output_dir: Annotated[Path, typer.Option("--output-dir", help="Where the reports go.")] = Path(
        "temp/walkforward"
    ),
    gap_days: Annotated[
        int, typer.Option("--gap-days", help="Embargo days between training end and test start.")
    ] = 0,
    window: Annotated[
        str, typer.Option("--window", help="rolling (train_days) or expanding (all past).")
    ] = "rolling",
    refit_every: Annotated[int, typer.Option("--refit-every", help="Fit a new model every k steps.")] = 1,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Parallel steps (default: one per core).")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address, tcp://host:8786.")
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="Text report language: en or ja (the seed's labels).")
    ] = "en",
    permutation_check: Annotated[
        bool,
        typer.Option(
            "--permutation-check", help="Also refit on shuffled labels: results must fall to chance."
        ),
    ] = False,
    label_horizon: Annotated[
        int, typer.Option("--label-horizon", help="Markets: bars ahead of the direction label.")
    ] = 1,
    n_estimators: Annotated[
        int | None,
        typer.Option("--n-estimators", help="Trees per ensemble family (default: the ensemble's own, 100)."),
    ] = None,
    places: Annotated[
        str,
        typer.Option(
            "--places",
            help="Races: order boats 2-6 by the place model (model) or by win probability (win_order).",
        ),
    ] = "model",
    bets: Annotated[
        str | None,
        typer.Option(
            "--bets",
            help="Races with win_odds: settle a stake strategy (flat, ev or kelly) on the test predictions.",
        ),
    ] = None,
    bet_type: Annotated[str, typer.Option("--bet-type", help="win or trifecta (with --bets).")] = "win",
    bet_margin: Annotated[
        float, typer.Option("--bet-margin", help="ev/kelly bet only when p x odds > 1 + margin.")
    ] = 0.0,
    kelly_fraction: Annotated[
        float, typer.Option("--kelly-fraction", help="Share of the full Kelly stake, in (0, 1].")
    ] = 0.25,
    kelly_cap: Annotated[
        float, typer.Option("--kelly-cap", help="Largest Kelly stake as a share of the bankroll, in (0, 1].")
    ] = 0.05,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="ensemble (default), lightgbm, xgboost, sklearn:package.module:factory (an unfitted "
            "estimator or Pipeline) or package.module:factory (any model with fit/predict_proba).",
        ),
    ] = "ensemble",
    calibration: Annotated[
        str | None,
        typer.Option(
            "--calibration",
            help="isotonic or platt: calibrate each step on its training window's last days (not test rows).",
        ),
    ] = None,
    spread_bps: Annotated[
        float,
        typer.Option("--spread-bps", help="Markets: bid-ask spread in basis points (half paid per trade)."),
    ] = 1.0,
    commission_bps: Annotated[
        float, typer.Option("--commission-bps", help="Markets: commission per trade in basis points.")
    ] = 0.5,
    slippage_bps: Annotated[
        float, typer.Option("--slippage-bps", help="Markets: slippage per trade in basis points.")
    ] = 0.5,
) -> None:
    """Run the walk-forward and write walkforward_results.json, walkforward_report.txt/.html and
    walkforward_predictions.parquet to --output-dir."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from stagewise._console import make_console
    from stagewise.backtest import WalkForwardBacktest
    from stagewise.metrics.betting import StakeStrategy

    params: dict[str, Any] | None = None
    if n_estimators is not None:
        params = {f: {"n_estimators": n_estimators} for f in ("lgbm_params", "xgb_params", "rf_params")}
    from stagewise.metrics.trading import TradingCosts

    try:
        costs = TradingCosts(spread_bps=spread_bps, commission_bps=commission_bps, slippage_bps=slippage_bps)
    except ConfigError as exc:
        message = str(exc)
        for name in ("spread_bps", "commission_bps", "slippage_bps"):
            message = message.replace(f"The '{name}' parameter", f"The --{name.replace('_', '-')} option")
        raise ConfigError(message) from None
    strategy = None
    if bets is not None:
        try:
            strategy = StakeStrategy(
                bets, margin=bet_margin, kelly_fraction=kelly_fraction, kelly_cap=kelly_cap
            )
        except ConfigError as exc:
            message = str(exc)
            for name, flag in _FLAGS.items():
                message = message.replace(f"The '{name}' parameter", f"The {flag} option")
            raise ConfigError(message) from None
    from stagewise.models.flavours.spec import model_factory

    if model != "ensemble":
        single = {"n_estimators": n_estimators} if n_estimators and model in ("lightgbm", "xgboost") else None
        factory = model_factory(model, single)
    else:
        factory = None
    runner = WalkForwardBacktest(
        domain,  # type: ignore[arg-type]  # validated by the runner with a clear message
        data=data,
        model_factory=factory,
        n_workers=workers,
        scheduler=scheduler,
        refit_every=refit_every,
        gap_days=gap_days,
        window=window,  # type: ignore[arg-type]
        model_params=params,
        permutation_check=permutation_check,
        label_horizon=label_horizon,
        lang=lang,  # type: ignore[arg-type]
        places=places,  # type: ignore[arg-type]
        bets=strategy,
        bet_type=bet_type,  # type: ignore[arg-type]
        calibration=calibration,  # type: ignore[arg-type]  # validated by the runner
        costs=costs,
    )
    console = make_console(stderr=True)
    with Progress(
        TextColumn("walk-forward"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("steps", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = runner.run_walkforward(
            start, end, train_days, test_days, step_days, output_dir, progress=progress
        )
    typer.echo(Path(result["outputs"]["report"]).read_text(encoding="utf-8"))
    for name, path in result["outputs"].items():
        typer.echo(f"{name}: {path}")
