"""``stagewise demo``: the whole lifecycle on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(highlight=False)


def demo(
    workdir: Annotated[
        Path, typer.Option(help="Where every output goes; must not hold an earlier run.")
    ] = Path("stagewise-demo"),
    days: Annotated[int, typer.Option(help="Live days replayed for each challenger (7-120).")] = 21,
    seed: Annotated[int, typer.Option(help="Seed of the simulator and the models.")] = 0,
) -> None:
    """Run the lifecycle end to end: simulate, train, backtest, register, roll out, watch, decide.

    A champion and a challenger are trained on simulated races and walk-forward backtested; \
the challenger is rolled out at 10 % and DAYS live days are replayed (each race routed by its \
bucket, logged before the start, settled after it), while the controller promotes it when \
healthy. A deliberately broken challenger is then rolled back and the notification is delivered \
to a local webhook. An index page links every output.
    """
    from stagewise.lifecycle.demo import run_demo

    with console.status("working"):
        result = run_demo(workdir, days=days, seed=seed, say=console.print)
    promoted = [d for d in result.good_run if d.action == "promote"]
    rolled_back = [d for d in result.degraded_run if d.action == "rollback"]
    console.print(
        f"\nChallenger: {len(promoted)} promotion(s), final stage {result.good_run[-1].stage_after}. "
        f"Broken challenger: {'rolled back on ' + rolled_back[0].day if rolled_back else 'NOT rolled back'}; "
        f"{len(result.notifications)} notification(s) reached the local webhook."
    )
    for message in result.notifications[:1]:
        console.print(f"First notification received: {message.get('title', message)}")
    console.print(f"Done in {result.seconds:.0f} s. Open [bold]{result.report}[/] for every report.")
