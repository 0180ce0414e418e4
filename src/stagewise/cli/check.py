"""``stagewise check``: the integrated check (the seed's ``dev_check.py``), usable as a deployment gate.

Every sub-command reads the deployment laid out under ``--workdir`` (default: the current
directory, the layout of the other commands' defaults and of the demo's work directory):
``models/`` (``--models``), ``data/monitor.db`` (``--db``), ``config/rollout_config.json``
(``--config``) and ``data/races.parquet`` (``--data``). Exit status 0 when every check
passes, 1 when one fails (or on a user error), 2 for a bad option.
"""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from stagewise._console import cell, make_console, plain
from stagewise._domain import Domain

if TYPE_CHECKING:
    from stagewise.check import CheckResult, CheckTargets, Status

app = typer.Typer(
    help="The integrated check: status at a glance, data, models, validate, and the six-stage full check "
    "(exit 1 on any failure, so it can gate a deployment).",
    no_args_is_help=True,
)


class Mode(StrEnum):
    light = "light"
    full = "full"


WORKDIR = typer.Option(
    Path("."), "--workdir", help="Deployment directory; the defaults of the options below are inside it."
)
MODELS = typer.Option(None, "--models", "--root", help="Model registry directory (default WORKDIR/models).")
DB = typer.Option(
    None,
    "--db",
    help="Monitor ledger: a SQLite file or a SQLAlchemy URL (default WORKDIR/data/monitor.db).",
)
CONFIG = typer.Option(
    None,
    "--config",
    help="Rollout config JSON, or a SQLAlchemy URL (default WORKDIR/config/rollout_config.json).",
)
DATA = typer.Option(
    None, "--data", help="Race data file, CSV or Parquet (default WORKDIR/data/races.parquet)."
)
BARS = typer.Option(None, "--bars", help="Also check this bar file (CSV or Parquet).")
AS_JSON = typer.Option(False, "--json", help="Print JSON instead of tables.")
SCRATCH = typer.Option(
    None,
    "--scratch",
    help="Where the training round trip and the walk-forward write (kept); default: a temporary "
    "directory, removed afterwards. Never inside the model registry.",
)
DOMAIN = typer.Option(
    Domain.RACES,
    "--domain",
    help="Data of the training round trip and walk-forward: simulated races, or EURUSD hours.",
)
SEED = typer.Option(0, "--seed", help="Random seed of the simulated data and the small models.")
MODE = typer.Option(Mode.light, "--mode", help="light: fast, builds nothing; full: also trains.")


def _console(stderr: bool = False) -> Console:
    return make_console(stderr=stderr)


def _targets(
    workdir: Path,
    models: Path | None,
    db: str | None,
    config: str | None,
    data: Path | None,
    bars: Path | None,
) -> CheckTargets:
    from stagewise.check import CheckTargets

    return CheckTargets.under(workdir, models=models, db=db, config=config, data=data, bars=bars)


def _run(title: str, as_json: bool, work: Any) -> list[CheckResult]:
    """Call ``work(progress)`` under a spinner (on stderr, so --json stays clean)."""
    if as_json:
        results: list[CheckResult] = work(None)
        return results
    with _console(stderr=True).status(title) as spinner:
        results = work(lambda message: spinner.update(f"{title}: {message}"))
    return results


def _gate(command: str, as_json: bool, work: Any, *, by_stage: bool = False) -> None:
    """Run the checks under the command's name, print them, exit 1 if any failed."""
    _finish(command, _run(command, as_json, work), as_json, by_stage=by_stage)


def _finish(command: str, results: list[CheckResult], as_json: bool, *, by_stage: bool = False) -> None:
    from stagewise.check import all_ok

    ok = all_ok(results)
    if as_json:
        document = {"command": command, "ok": ok, "results": [r.to_dict() for r in results]}
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        _console().print(_results_table(command, results))
        failed = [r for r in results if not r.ok]
        if by_stage:
            _console().print(_stage_summary(results))
        elif failed:
            _console().print(_fix_table(failed))
        verdict = "[bold green]all passed[/]" if ok else f"[bold red]{len(failed)} failed[/]"
        _console().print(
            f"{command}: {len(results) - len(failed)} of {len(results)} checks passed, {verdict}"
        )
    if not ok:
        raise typer.Exit(1)


def _status_cell(result: CheckResult) -> str:
    return "[green]PASS[/]" if result.ok else "[bold red]FAIL[/]"


def _results_table(title: str, results: list[CheckResult]) -> Table:
    table = Table(title=cell(f"stagewise check {title}"), title_justify="left")
    table.add_column("stage", style="dim", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("detail", overflow="fold")
    previous = None
    for r in results:
        if previous is not None and r.stage != previous:
            table.add_section()
        table.add_row(
            cell(r.stage if r.stage != previous else ""), cell(r.name), _status_cell(r), Text(r.detail)
        )
        previous = r.stage
    return table


def _fix_table(failed: list[CheckResult]) -> Table:
    table = Table(title="What to fix", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("fix", overflow="fold")
    for r in failed:
        table.add_row(
            cell(f"{r.stage}: {r.name}" if r.stage else r.name), Text(r.fix or "see the detail above")
        )
    return table


def _stage_summary(results: list[CheckResult]) -> Table:
    from stagewise.check import STAGES

    table = Table(title="Summary: the six stages", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("stage", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("passed", justify="right")
    table.add_column("fix for each failure", overflow="fold")
    for number, stage in enumerate(STAGES, start=1):
        mine = [r for r in results if r.stage == stage]
        failed = [r for r in mine if not r.ok]
        verdict = "[green]PASS[/]" if mine and not failed else "[bold red]FAIL[/]"
        fixes = "\n".join(f"{r.name}: {r.fix or 'see the detail above'}" for r in failed)
        table.add_row(str(number), stage, verdict, f"{len(mine) - len(failed)}/{len(mine)}", Text(fixes))
    return table


# ------------------------------------------------------------------------------ commands
@app.command("full-check")
def full_check(
    workdir: Path = WORKDIR,
    models: Path | None = MODELS,
    db: str | None = DB,
    config: str | None = CONFIG,
    data: Path | None = DATA,
    bars: Path | None = BARS,
    scratch: Path | None = SCRATCH,
    domain: Domain = DOMAIN,
    seed: int = SEED,
    as_json: bool = AS_JSON,
) -> None:
    """Every check, in six stages (environment, data, features, models, rollout, monitor), then a summary.

    That is `validate --mode full` plus health: it also fails while a critical alert is firing.
    Exit 1 on any failure: `stagewise check full-check && deploy`.
    """
    from stagewise.check import full_check as run

    targets = _targets(workdir, models, db, config, data, bars)
    _gate(
        "full-check",
        as_json,
        lambda say: run(targets, scratch=scratch, domain=domain.value, seed=seed, progress=say),
        by_stage=True,
    )


@app.command("validate")
def validate(
    mode: Mode = MODE,
    workdir: Path = WORKDIR,
    models: Path | None = MODELS,
    db: str | None = DB,
    config: str | None = CONFIG,
    data: Path | None = DATA,
    bars: Path | None = BARS,
    scratch: Path | None = SCRATCH,
    domain: Domain = DOMAIN,
    seed: int = SEED,
    as_json: bool = AS_JSON,
) -> None:
    """light: libraries, storage writable, data schemas, features, registry hashes, rollout and audit, ledger.

    full: light plus the production model at work, a training round trip and a tiny walk-forward \
(written to a scratch directory, never to the registry).
    """
    from stagewise.check import validate as run

    targets = _targets(workdir, models, db, config, data, bars)
    _gate(
        f"validate --mode {mode.value}",
        as_json,
        lambda say: run(targets, mode.value, scratch=scratch, domain=domain.value, seed=seed, progress=say),
    )


@app.command("data-check")
def data_check(
    workdir: Path = WORKDIR,
    data: Path | None = DATA,
    bars: Path | None = BARS,
    as_json: bool = AS_JSON,
) -> None:
    """The race data (and --bars) validate against their schemas; both feature sets are generated."""
    from stagewise.check import data_check as run

    targets = _targets(workdir, None, None, None, data, bars)
    _gate("data-check", as_json, lambda say: run(targets, progress=say))


@app.command("ml-models")
def ml_models(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only read: registry, hashes, the production model at work. Train nothing."
    ),
    workdir: Path = WORKDIR,
    models: Path | None = MODELS,
    scratch: Path | None = SCRATCH,
    domain: Domain = DOMAIN,
    seed: int = SEED,
    as_json: bool = AS_JSON,
) -> None:
    """The registry, every hash, the production model at work and the 12 features.

    Without --dry-run it also trains a small ensemble and proves save -> verify -> load gives \
identical predictions, in a scratch registry (never the one given by --models).
    """
    from stagewise.check import ml_models as run

    targets = _targets(workdir, models, None, None, None, None)
    command = "ml-models" + (" --dry-run" if dry_run else "")
    _gate(
        command,
        as_json,
        lambda say: run(
            targets, dry_run=dry_run, scratch=scratch, domain=domain.value, seed=seed, progress=say
        ),
    )


@app.command("status")
def status(
    workdir: Path = WORKDIR,
    models: Path | None = MODELS,
    db: str | None = DB,
    config: str | None = CONFIG,
    as_json: bool = AS_JSON,
) -> None:
    """At a glance: models (versions, aliases, hashes), rollouts (stage, since), monitor (last day, alerts).

    Only reads. Exit 1 when a part is missing or unreadable, a hash fails or the audit chain is broken.
    """
    from stagewise.check import collect_status

    targets = _targets(workdir, models, db, config, None, None)
    result = collect_status(targets)
    if as_json:
        typer.echo(json.dumps(_status_document(result), ensure_ascii=False, indent=2, default=str))
    else:
        _print_status(result)
    if not result.ok:
        raise typer.Exit(1)


def _status_document(result: Status) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and math.isnan(value) else value

    return {
        "ok": result.ok,
        "targets": {
            "models": str(result.targets.models),
            "db": result.targets.db,
            "config": result.targets.config,
        },
        "models": result.models,
        "rollouts": result.rollouts,
        "rollout_updated_at": result.rollout_updated_at,
        "audit_ok": result.audit_ok,
        "manual_edit": result.manual_edit,
        "monitor": {k: clean(v) for k, v in result.monitor.items()},
        "open_alerts": result.open_alerts,
        "problems": {part: {"what": p.what, "fix": p.fix} for part, p in result.problems.items()},
    }


def _pct(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"


def _print_status(result: Status) -> None:
    targets = result.targets
    problems = result.problems

    models = Table(title=cell(f"Models in {targets.models}"), title_justify="left")
    columns = ("version", "created (UTC)", "role", "aliases", "features", "hashes", "flavour", "serving path")
    for column in columns:
        models.add_column(column, overflow="fold", no_wrap=column == "version")
    for row in result.models:
        role = Text(row["role"], style="bold green" if row["role"] == "production" else "")
        hashes = Text(row["hashes"], style="" if row["hashes_ok"] else "bold red")
        models.add_row(
            cell(row["version"]),
            cell(row["created_at"]),
            role,
            cell(row["aliases"]),
            cell(row["n_features"]),
            hashes,
            cell(row.get("flavour", "")),
            cell(row.get("serving_path", "-")),
        )
    _print_part(models, "Models", problems.get("models"), bool(result.models))

    updated = result.rollout_updated_at or "never"
    audit = {True: "audit chain intact", False: "[bold red]audit chain BROKEN[/]", None: "audit not read"}
    rollouts = Table(
        title=f"Rollouts in {plain(targets.config)} (updated {updated}; {audit[result.audit_ok]})"
    )
    rollouts.title_justify = "left"
    for column in ("feature", "stage", "stage since", "enabled since", "bucketing", "killed", "completed"):
        rollouts.add_column(column, overflow="fold")
    for row in result.rollouts:
        since, enabled = row["stage_since"] or "-", row["enabled_since"] or "-"
        rollouts.add_row(
            *(
                cell(v)
                for v in (
                    row["feature"], row["stage"], since, enabled, row["hash_mode"], row["killed"] or "-",
                    row["completed"] or "-",
                )
            )
        )  # fmt: skip
    _print_part(
        rollouts, "Rollouts", problems.get("rollouts"), bool(result.rollouts) or result.audit_ok is not None
    )

    day = result.monitor
    monitor = Table(title="Monitor", title_justify="left", show_header=False)
    monitor.add_column("fact", style="bold")
    monitor.add_column("value", overflow="fold")
    monitor.add_row("ledger", cell(targets.db))
    if day:
        monitor.add_row("last race day", str(day["date"]))
        monitor.add_row("settled races", str(day.get("total_races", 0)))
        monitor.add_row("awaiting a result", str(day.get("pending_races", 0)))
        monitor.add_row("win hit rate", _pct(day.get("hit_rate_1st")))
        monitor.add_row("trifecta hit rate", _pct(day.get("hit_rate_top3")))
    elif "monitor" not in problems:
        monitor.add_row("last race day", "none yet: no prediction logged")
    if "monitor" not in problems:
        firing = result.open_alerts
        text = (
            "none"
            if not firing
            else "\n".join(f"{a['date']} [{a['severity']}] {a['alert_type']}: {a['message']}" for a in firing)
        )
        monitor.add_row("open alerts", Text(text))
    _print_part(monitor, "Monitor", problems.get("monitor"), "monitor" not in problems)

    ok = "[bold green]ok[/]" if result.ok else "[bold red]problems found[/]"
    _console().print(f"status: {ok}")


def _print_part(table: Table, label: str, problem: Any, show: bool) -> None:
    if show:
        _console().print(table)
    if problem is not None:
        _console().print(f"[bold red]{label}[/]: {plain(problem.what)}")
        _console().print(f"  [bold]fix[/]: {plain(problem.fix)}")
