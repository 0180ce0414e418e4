"""``stagewise search``: nested walk-forward hyperparameter search; ``stagewise search-register``.

Examples::

    stagewise search --domain markets --space space.toml --trials 30 --workers 2 \\
        --start 2017-10-02 --end 2017-12-31 --train-days 60 --test-days 7 --step-days 7
    stagewise search-register --results temp/search --registry models --alias challenger
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register", "search"]


def search(
    space: Annotated[Path, typer.Option("--space", help="Search space file (.toml, .yaml or .yml).")],
    start: Annotated[str, typer.Option("--start", help="First outer test day, e.g. 2017-10-02.")],
    end: Annotated[str, typer.Option("--end", help="Last day evaluated (included).")],
    domain: Annotated[str, typer.Option("--domain", help="races or markets.")] = "races",
    trials: Annotated[
        int, typer.Option("--trials", help="Trials per outer step (failed and pruned count).")
    ] = 20,
    workers: Annotated[
        int, typer.Option("--workers", help="Trials run in parallel on this many processes (same results).")
    ] = 1,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage", help="Study database URL (default: the ledger's, sqlite:///data/monitor.db)."
        ),
    ] = None,
    new_study: Annotated[
        bool, typer.Option("--new-study", help="Delete a stored study of this name and start again.")
    ] = False,
    study_name: Annotated[
        str | None, typer.Option("--study-name", help="Default: stagewise-search-DOMAIN.")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Race or bar file; markets default to the bundled EURUSD bars."),
    ] = None,
    train_days: Annotated[int, typer.Option("--train-days", help="Days of each outer training window.")] = 60,
    test_days: Annotated[int, typer.Option("--test-days", help="Days of each outer test window.")] = 7,
    step_days: Annotated[int, typer.Option("--step-days", help="Days between outer test starts.")] = 7,
    gap_days: Annotated[int, typer.Option("--gap-days", help="Embargo days before every test window.")] = 0,
    inner_train_days: Annotated[
        int | None,
        typer.Option("--inner-train-days", help="Inner training days (default: half of --train-days)."),
    ] = None,
    inner_test_days: Annotated[
        int | None, typer.Option("--inner-test-days", help="Inner test days (default: --test-days).")
    ] = None,
    n_estimators: Annotated[
        int | None,
        typer.Option("--n-estimators", help="Trees per ensemble family unless the space searches it."),
    ] = None,
    candidates: Annotated[
        int, typer.Option("--candidates", help="Configurations the CPCV/PBO diagnostics compare (0: off).")
    ] = 4,
    permute_labels: Annotated[
        bool,
        typer.Option("--permute-labels", help="Shuffle labels in every training window: must find nothing."),
    ] = False,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler, tcp://host:8786.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the TPE sampler and label shuffles.")] = 0,
    output_dir: Annotated[Path, typer.Option("--output-dir", help="Where the results go.")] = Path(
        "temp/search"
    ),
) -> None:
    """Choose a configuration inside each outer training window (inner walk-forward, Optuna TPE),
    score it on the outer test window, and write search_results.json and search_report.html."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from stagewise._console import make_console
    from stagewise.search import EnsembleTarget, NestedSearch, SearchProgress, load_space

    parsed = load_space(space)
    base = None
    if n_estimators is not None:
        base = {f: {"n_estimators": n_estimators} for f in ("lightgbm", "xgboost", "random_forest")}
    runner = NestedSearch(
        domain,  # type: ignore[arg-type]  # checked by NestedSearch with a one-line error
        data=data,
        space=parsed,
        target=EnsembleTarget(base),
        n_trials=trials,
        n_workers=workers,
        scheduler=scheduler,
        storage=storage,
        study_name=study_name,
        new_study=new_study,
        gap_days=gap_days,
        inner_train_days=inner_train_days,
        inner_test_days=inner_test_days,
        seed=seed,
        permute_labels=permute_labels,
        n_candidates=candidates,
    )
    console = make_console(stderr=True)
    bar = Progress(
        TextColumn("search"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
        TimeElapsedColumn(), console=console,
    )  # fmt: skip
    task = bar.add_task("best inner score so far: -", total=None)

    def progress(state: SearchProgress) -> None:
        # the bar appears with the first trial count, so a mistake found before any work prints one line only
        bar.start()
        best = "-" if state.best is None else f"{state.best:.4f}"
        bar.update(
            task, completed=state.done, total=state.total, description=f"best inner score so far: {best}"
        )

    try:
        result = runner.run(start, end, train_days, test_days, step_days, output_dir, progress=progress)
    finally:
        bar.stop()
    for line in summary_lines(result):
        typer.echo(line)


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The few lines the command prints: estimates, the chosen configuration, diagnostics, files."""
    import json

    metric = result["metric"]

    def estimate(entry: dict[str, Any]) -> str:
        low, high = entry["ci"]
        size = f"n={entry['units']}" if "units" in entry else f"staked {entry['staked']:.0f}"
        return f"{entry['score']:.4f} (95% {low:.4f} to {high:.4f}, {size})"

    lines = [f"nested {metric}: {estimate(result['nested'])}"]
    if "naive" in result:
        naive = result["naive"]
        lines.append(f"naive best-of-{naive['n_trials']} {metric} (biased by the choice): {estimate(naive)}")
    lines.append(f"chance ({result['chance']['name']}): {result['chance']['score']:.4f}")
    lines.append(f"chosen configuration: {json.dumps(result['chosen']['params'], sort_keys=True)}")
    diagnostics = result.get("diagnostics") or {}
    pbo = (diagnostics.get("cpcv") or {}).get("pbo")
    if pbo:
        lines.append(f"probability of backtest overfitting: {pbo['pbo']:.2f}")
    dsr = diagnostics.get("deflated_sharpe")
    if dsr:
        lines.append(f"deflated Sharpe ratio: {dsr['deflated_sharpe_ratio']:.3f}")
    lines += [f"{name}: {path}" for name, path in result["outputs"].items()]
    return lines


def register(
    results: Annotated[Path, typer.Option("--results", help="search_results.json or the folder holding it.")],
    data: Annotated[
        Path | None, typer.Option("--data", help="The data the search used (markets: default EURUSD).")
    ] = None,
    registry: Annotated[Path, typer.Option("--registry", help="Model registry folder.")] = Path("models"),
    alias: Annotated[
        str | None, typer.Option("--alias", help="Also point this alias at it, e.g. challenger.")
    ] = None,
) -> None:
    """Train the configuration the search chose on its newest window and save it to the registry."""
    from stagewise.search import read_results
    from stagewise.search.register import register_chosen

    version = register_chosen(read_results(results), data=data, registry=registry, alias=alias)
    typer.echo(f"registered {version}" + (f" as {alias}" if alias else ""))
