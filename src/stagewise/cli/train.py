"""``stagewise train``: the seed's ``create_ml_models.py --days 360 --verbose``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from stagewise._console import make_console, plain
from stagewise._domain import Domain

if TYPE_CHECKING:
    from stagewise.models.training import TrainingReport


def _percent(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2%}"


def _score_table(report: TrainingReport) -> Table:
    markets = report.domain == Domain.MARKETS
    table = Table(title=f"Held-out period {report.test_window[0]} → {report.test_window[1]}")
    table.add_column("model")
    if markets:
        table.add_column("F1", justify="right")
        table.add_column("accuracy", justify="right")
    else:
        table.add_column("win hit rate", justify="right")
        table.add_column("trifecta hit rate", justify="right")
    table.add_column("95 % interval" + (" (accuracy)" if markets else " (win)"), justify="right")
    for score in report.scores:
        second = score.extra.get("accuracy" if markets else "hit_rate_top3", math.nan)
        first = f"{score.value:.3f}" if markets else _percent(score.value)
        interval = "—" if math.isnan(score.low) else f"{_percent(score.low)} – {_percent(score.high)}"
        name = (
            f"[dim]{plain(score.name)} (baseline)[/]"
            if score.is_baseline
            else f"[bold]{plain(score.name)}[/]"
        )
        table.add_row(name, first, _percent(second), interval)
    return table


def _calibration_method(value: str) -> str | None:
    """``--calibration``'s value as the library's method (``none`` → None), or a one-line ConfigError."""
    from stagewise._exceptions import ConfigError

    accepted = ("isotonic", "platt", "none")
    if value not in accepted:
        raise ConfigError(f"--calibration must be one of {', '.join(accepted)}. Got {value!r}.")
    return None if value == "none" else value


def train(
    domain: Annotated[Domain, typer.Option(help="markets: next-bar direction; races: race winner.")] = (
        Domain.MARKETS
    ),
    days: Annotated[int, typer.Option(help="Train and hold out within the last DAYS days of data.")] = 360,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Bars or races file (CSV/Parquet). Default: the bundled EURUSD hourly bars (markets) "
            "or DAYS simulated days (races)."
        ),
    ] = None,
    test_fraction: Annotated[
        float, typer.Option(help="Share of the window, at its end, held out for scoring.")
    ] = 0.25,
    seed: Annotated[int, typer.Option(help="Random seed of the models and of the simulator.")] = 0,
    root: Annotated[Path, typer.Option(help="Model registry directory.")] = Path("models"),
    save: Annotated[bool, typer.Option(help="Save the ensemble to ROOT/training/.")] = True,
    features: Annotated[
        str | None,
        typer.Option(
            "--features",
            help="Feature set: 'races', 'technical' or a function by dotted path "
            "('mypackage.features:kyotei_features'); recorded with the version and used by the server. "
            "Default: the domain's built-in set.",
        ),
    ] = None,
    calibration: Annotated[
        str,
        typer.Option(
            "--calibration",
            help="isotonic, platt or none: wrap the ensemble with a probability calibrator fitted on the "
            "training part's last 20 % of days (never on held-out rows) and register them as one version.",
        ),
    ] = "none",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say what happens at each step.")] = False,
) -> None:
    """Train the ensemble on a time-ordered split and report each model beside the baselines.

    The earlier part of the window trains; the later part is held out. Each model's F1 (markets) \
or win hit rate (races) on the held-out part is printed next to the baselines a useful model \
must beat: always-up and majority class, or lane order 1-2-3 and random.

    The trained ensemble is saved, pickle-free, to ROOT/training/<version>/ with its feature \
set; for races together with the place model that orders places 2-6, as one version.
    """
    from rich.status import Status

    from stagewise.features.sets import FeatureSet
    from stagewise.models.training import check_training_window, train_markets, train_races

    check_training_window(days, test_fraction)  # before any data is read or simulated
    method = _calibration_method(calibration)
    feature_set = None if features is None else FeatureSet.parse(features, domain=domain.value)

    console = make_console()
    with Status("loading data", console=console) as status:

        def progress(message: str) -> None:
            status.update(message)
            if verbose:
                console.print(f"[dim]·[/] {plain(message)}")

        if domain is Domain.MARKETS:
            from stagewise.data import bundled_bars, load_bars

            bars = load_bars(data) if data else bundled_bars("EURUSD")
            progress(f"{len(bars):,} bars from {data or 'bundled EURUSD hourly (backtesting.test)'}")
            report = train_markets(
                bars,
                days=days,
                test_fraction=test_fraction,
                random_state=seed,
                progress=progress,
                feature_set=feature_set,
                calibration=method,
            )
        else:
            import pandas as pd

            from stagewise.data import load_races, simulate_races

            if data:
                races = load_races(data)
            else:
                end = pd.Timestamp("2025-12-31")
                start = end - pd.Timedelta(days=days - 1)
                progress(f"simulating {days} days of races ({start.date()} → {end.date()}, seed {seed})")
                races = simulate_races(start, end, seed=seed)
            report = train_races(
                races,
                days=days,
                test_fraction=test_fraction,
                random_state=seed,
                progress=progress,
                feature_set=feature_set,
                calibration=method,
            )

    console.print(
        f"Trained on {report.n_train:,} {'bars' if domain is Domain.MARKETS else 'boats'} "
        f"({report.train_window[0]} → {report.train_window[1]}) in {report.fit_seconds:.1f} s; "
        f"held out {report.n_test:,} {'bars' if domain is Domain.MARKETS else 'races'}."
    )
    console.print(_score_table(report))
    if report.calibration_scores:
        scores = report.calibration_scores
        console.print(
            f"Calibration ({report.calibration}) on the held-out period: "
            f"ECE {scores['calibration_ece_raw']:.4f} raw → {scores['calibration_ece']:.4f} calibrated "
            "(beyond chance "
            f"{scores['calibration_ece_excess_low']:+.4f} … {scores['calibration_ece_excess_high']:+.4f})."
        )
    for note in report.notes:
        console.print(f"[yellow]Note:[/] {plain(note)}")
    if save:
        from stagewise.models.registry import ModelRegistry

        version = ModelRegistry(root).save(
            report.flavour or report.model,
            feature_set=None if report.feature_set is None else report.feature_set.to_json(),
            metrics=report.performance_metrics(),
            data_window={"start": report.train_window[0], "end": report.train_window[1]},
            notes=f"stagewise train --domain {domain.value} --days {days}"
            + (f" --calibration {method}" if method else ""),
        )
        console.print(f"Saved version [bold]{version}[/] to {plain(root / 'training')}")
