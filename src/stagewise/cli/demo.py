"""``stagewise demo``: the whole lifecycle on embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    domain: Annotated[
        str,
        typer.Option(
            help="races (simulated kyotei) or markets (the bundled EURUSD hourly bars, judged on "
            "direction accuracy and Brier skill)."
        ),
    ] = "races",
    workdir: Annotated[
        Path,
        typer.Option(
            help="Where every output goes; must be new or empty (an earlier run is never overwritten)."
        ),
    ] = Path("stagewise-demo"),
    days: Annotated[
        int | None,
        typer.Option(
            help="Live days replayed for each challenger. races: 7-120, default 21 (the first promotion "
            "needs about 10). markets: calendar days of bars, 7-87, default 56 (the 10 % stage alone "
            "needs about five weeks of bars before the first promotion)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulator and the models.")] = 0,
    webhook_port: Annotated[
        int, typer.Option(help="Port of the local webhook receiver on 127.0.0.1 (0: any free port).")
    ] = 0,
) -> None:
    """Run the lifecycle end to end: simulate, train, backtest, register, roll out, watch, decide.

    A champion and a challenger are trained on simulated races and walk-forward backtested, then \
registered without pickle. The challenger is rolled out at 10 % and DAYS live days are replayed \
(each race routed by its bucket, logged before the start, settled after it) while the controller \
promotes it 10 % → 50 % → 100 % when healthy. A degraded challenger (fitted on shuffled labels) is \
then rolled back automatically and the notification is delivered to a local webhook. \
WORKDIR/report/index.html links every output. Under a minute on two cores.

    --domain markets does the same on the bundled EURUSD hourly bars: each bar is a unit \
(EURUSD:timestamp), its direction signal is logged at the bar's close and settled when the next bar \
closes, and the controller judges the challenger's signals under the markets health policy \
(direction accuracy, Brier skill against the base rate). The degraded challenger there has an \
off-by-one label bug (it learned the previous bar's direction) and is certain of every call.
    """
    from stagewise._console import make_console, plain
    from stagewise.lifecycle.demo import run_demo
    from stagewise.lifecycle.progress import RichProgress

    console = make_console()
    with RichProgress(console) as progress:
        result = run_demo(
            workdir, domain=domain, days=days, seed=seed, progress=progress, webhook_port=webhook_port
        )
    promotions = [
        f"{d.stage_before} → {d.stage_after} on {d.day}" for d in result.good_run if d.action == "promote"
    ]
    rollbacks = [d.day for d in result.degraded_run if d.action == "rollback"]
    delivered = [n for n in result.notifications if n.get("signature_ok")]
    console.print(
        f"\n[bold]Result[/]: the challenger was promoted {len(promotions)} time(s)"
        f"{' (' + '; '.join(promotions) + ')' if promotions else ''}, final stage "
        f"{result.good_run[-1].stage_after if result.good_run else '—'}; the degraded challenger was "
        f"{'rolled back on ' + rollbacks[0] if rollbacks else '[bold red]not rolled back[/]'}; "
        f"{len(result.notifications)} notification(s) reached the webhook "
        f"({len(delivered)} with a valid signature)."
    )
    console.print(
        f"Audit log: {result.audit_entries} entries, chain "
        f"{'verified' if result.audit_ok else '[bold red]BROKEN[/]'}. "
        f"Done in {result.seconds:.0f} s.\nOpen [bold]{plain(result.report)}[/] for every report."
    )
