"""``stagewise rollout decisions FEATURE``: the controller's decision record, newest first."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from stagewise.cli._rollout_options import AS_JSON, CONFIG, DB, echo_json, open_rollout

if TYPE_CHECKING:
    from rich.table import Table

    from stagewise.rollout.decisions import DecisionRecord

LIMIT = typer.Option(10, "--limit", min=1, help="Show at most this many decisions (newest first).")


def register(app: typer.Typer) -> None:
    """Add ``decisions`` to the ``rollout`` command group."""
    app.command("decisions")(decisions)


def decisions(
    feature: str = typer.Argument(..., help="Feature name."),
    limit: int = LIMIT,
    config: Path = CONFIG,
    db: str = DB,
    as_json: bool = AS_JSON,
) -> None:
    """Every decision the controller applied on FEATURE, with each metric it judged.

    One table per decision: its action, stages and reasons, then per metric (built-in harm
    tests, the economic guardrail, declared guardrails, the sample-ratio check) the estimate
    (challenger − control), the always-valid interval and p-value, the level it was held to,
    units per arm, the CUPED covariate and variance ratio, and the verdict. Dry runs are not
    recorded. An A/B/n run records one decision per variant, titled with the variant's name.
    """
    with open_rollout(config, db) as rollout:
        rollout.feature(feature)  # an unknown feature: one line naming it and the known ones
        records = rollout.decisions(feature, limit)
    if as_json:
        echo_json([r.as_dict() for r in records])
        return
    if not records:
        typer.echo(f"{feature}: no controller decisions recorded yet (dry runs are not recorded).")
        return
    from stagewise._console import make_console

    console = make_console()
    for record in records:
        console.print(_table(record))


def _number(value: float | None, spec: str = "+.4f") -> str:
    return "-" if value is None else format(value, spec)


def _table(record: DecisionRecord) -> Table:
    from rich.table import Table

    from stagewise._console import cell, plain

    moved = record.stage_before if record.stage_after == record.stage_before else (
        f"{record.stage_before} -> {record.stage_after}"
    )  # fmt: skip
    table = Table(
        title=f"#{record.seq} {plain(record.decided_at)}: {record.action.upper()}"
        + ("" if record.variant is None else f" of variant {plain(record.variant)}")
        + f" at {plain(moved)} "
        f"(last day judged {record.day or '-'})",
        caption="\n".join(plain(r) for r in record.reasons),
        caption_justify="left",
    )
    for column in ("metric", "kind", "verdict", "challenger − control", "always-valid interval", "p", "level",
                   "units (control / challenger)", "covariate (variance ratio)"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("metric", "kind", "verdict") else "right")
    for m in record.metrics:
        interval = (
            "-" if m.interval_low is None or m.interval_high is None
            else f"[{m.interval_low:+.4f}, {m.interval_high:+.4f}]"
        )  # fmt: skip
        units = "-" if m.n_control is None and m.n_challenger is None else f"{m.n_control} / {m.n_challenger}"
        covariate = "-" if m.covariate is None else f"{m.covariate} ({_number(m.variance_ratio, '.3f')})"
        verdict = (m.verdict or "-") + (f": {m.reason}" if m.reason and m.verdict != "ok" else "")
        table.add_row(
            cell(m.metric), cell(m.kind), cell(verdict), _number(m.estimate), interval,
            _number(m.p_value, ".4g"), _number(m.level, ".4g"), units, cell(covariate),
        )  # fmt: skip
    return table
