"""``stagewise rollout simulate-aa`` and ``stagewise rollout auto``: the statistics and the controller.

Registered on the ``rollout`` group by :func:`register` (called from ``cli/rollout.py``).
Both commands only parse, call one library function and print.
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from stagewise.cli._rollout_options import CRITICAL_RULE, POLICY, require_config

if TYPE_CHECKING:
    from rich.table import Table

    from stagewise.rollout.controller import Decision
    from stagewise.rollout.experiments.aa import AaResult, RuleOutcome

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``simulate-aa`` and ``auto`` to the ``rollout`` command group."""
    app.command("simulate-aa")(simulate_aa)
    app.command("auto")(auto)


def _number(value: float | None, spec: str = "+.4f") -> str:
    return "n/a" if value is None else format(value, spec)


def _guardrail_table(guardrails: dict[str, Any]) -> Table:
    """The declared guardrails' records: one row per metric, dry runs marked."""
    from rich.table import Table

    from stagewise._console import plain

    table = Table(
        title=f"declared guardrails: {guardrails['action']} (Holm over {guardrails['family_size']}, "
        f"α = {guardrails['alpha']:g})"
    )
    for column in ("guardrail", "verdict", "challenger − control", "always-valid interval", "p", "level",
                   "units (control / challenger)", "CUPED variance ratio"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("guardrail", "verdict") else "right")
    for r in guardrails["records"]:
        name = plain(r["name"]) + (" (dry run)" if r["dry_run"] else "")
        verdict = r["verdict"] + (f": {plain(r['reason'])}" if r["reason"] else "")
        interval = plain(f"[{_number(r['interval_low'])}, {_number(r['interval_high'])}]")
        level = _number(r["level"], ".3g")
        ratio = _number(r["variance_ratio"], ".3f") if r["adjusted"] else "not adjusted"
        units = f"{r['n_control']} / {r['n_challenger']}"
        table.add_row(
            name, verdict, _number(r["estimate"]), interval, f"{r['p_value']:.3g}", level, units, ratio
        )
    return table


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.1%}"


def _rate(outcome: RuleOutcome) -> str:
    low, high = outcome.interval()
    return f"{_pct(outcome.rate)} [{_pct(low)}, {_pct(high)}]"


def _day(outcome: RuleOutcome) -> str:
    return "-" if outcome.median_day is None else f"{outcome.median_day:g}"


def simulate_aa(
    sims: int = typer.Option(
        1000, "--sims", max=1_000_000, help="Simulated experiments (each a month of daily looks)."
    ),
    days: int = typer.Option(30, "--days", max=3660, help="Daily looks per experiment."),
    races_per_day: int = typer.Option(
        140, "--races-per-day", max=1_000_000, help="Races a day, both groups together."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="Level of the harm test (the false-rollback budget)."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed prints the same figures."),
    p: float = typer.Option(
        0.25, "--p", help="Win hit rate of control (and of the challenger in the A/A run)."
    ),
    p_worse: float = typer.Option(0.20, "--p-worse", help="Challenger's win hit rate for the power run."),
    share: float = typer.Option(
        0.5, "--share", help="Share of races in the challenger cohort (0.1 at 10 %)."
    ),
    tau: float = typer.Option(
        0.05, "--tau", help="mSPRT mixing standard deviation (the mixing variance is τ²)."
    ),
    p_trifecta: float = typer.Option(
        0.07, "--p-trifecta", help="Trifecta hit rate in the A/A run, for the seed's absolute-threshold row."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """How often would the controller roll back a challenger that is NOT worse, and catch one that is?

    A/A runs: both groups win at --p. Power runs: the challenger wins at --p-worse.

    Two rules look at every experiment once a day for --days days:
    - sequential: the always-valid mSPRT the controller uses (Johari et al. 2022);
    - naive: a one-sided z-test at --alpha, repeated daily.

    The naive rule rolls back far more often than --alpha: that is why the controller does not use it.
    Rates carry a 95 % Wilson interval (the Monte-Carlo uncertainty).
    """
    from rich.progress import Progress

    from stagewise._console import make_console
    from stagewise.rollout.controller_runner import MAX_HEALTH_WINDOW_DAYS
    from stagewise.rollout.experiments.aa import simulate_aa as run_aa
    from stagewise.rollout.experiments.aa import simulate_health_gate, simulate_power

    common: dict[str, Any] = dict(
        n_sims=sims,
        days=days,
        races_per_day=races_per_day,
        alpha=alpha,
        seed=seed,
        treatment_share=share,
        tau=tau,
    )
    with Progress(transient=True, disable=as_json, console=make_console(stderr=True)) as progress:
        task_aa = progress.add_task("A/A simulations", total=sims)
        aa = run_aa(p=p, progress=lambda done, _n: progress.update(task_aa, completed=done), **common)
        task_pw = progress.add_task(f"power: {p:.0%} -> {p_worse:.0%}", total=sims)
        power = simulate_power(
            p_control=p, p_treatment=p_worse,
            progress=lambda done, _n: progress.update(task_pw, completed=done), **common,
        )  # fmt: skip
        gates = {
            rule: simulate_health_gate(
                n_sims=sims, days=days, races_per_day=races_per_day, treatment_share=share, p_win=p,
                p_trifecta=p_trifecta, seed=seed, critical_rule=rule, max_window_days=MAX_HEALTH_WINDOW_DAYS,
            )
            for rule in ("point", "upper_bound")
        }  # fmt: skip
    if as_json:
        data = _aa_json(aa, power)
        data["false_rollback"]["seed_absolute_thresholds"] = _outcome_json(gates["point"])
        data["false_rollback"]["seed_thresholds_wilson_upper_bound"] = _outcome_json(gates["upper_bound"])
        data["settings"]["p_trifecta"] = p_trifecta
        typer.echo(json.dumps(data, indent=2))
        return
    _print_aa(make_console(), aa, power, gates, p_trifecta)


def _outcome_json(outcome: RuleOutcome) -> dict[str, Any]:
    low, high = outcome.interval()
    return {
        "fired": outcome.fired,
        "rate": outcome.rate,
        "wilson_95": [low, high],
        "median_day": outcome.median_day,
    }


def _aa_json(aa: AaResult, power: AaResult) -> dict[str, Any]:
    return {
        "settings": {
            "sims": aa.n_sims, "days": aa.days, "races_per_day": aa.races_per_day,
            "share": aa.treatment_share, "alpha": aa.alpha, "tau": aa.tau, "seed": aa.seed,
            "p": aa.p_control, "p_worse": power.p_treatment,
        },
        "false_rollback": {"sequential": _outcome_json(aa.sequential), "naive": _outcome_json(aa.naive)},
        "power": {"sequential": _outcome_json(power.sequential), "naive": _outcome_json(power.naive)},
    }  # fmt: skip


def _print_aa(
    console: Any, aa: AaResult, power: AaResult, gates: dict[str, RuleOutcome], p_trifecta: float
) -> None:
    from rich.table import Table

    table = Table(
        title=(
            f"{aa.n_sims} simulated experiments, {aa.days} daily looks, {aa.races_per_day} races/day, "
            f"{aa.treatment_share:.0%} to the challenger, α = {aa.alpha}"
        )
    )
    table.add_column("rule")
    table.add_column("false rollbacks (A/A)", justify="right")
    table.add_column(f"power {power.p_control:.0%} -> {power.p_treatment:.0%}", justify="right")
    table.add_column("median day", justify="right")
    for name, a, b in (
        ("sequential (mSPRT)", aa.sequential, power.sequential),
        ("naive daily z-test", aa.naive, power.naive),
    ):
        table.add_row(name, _rate(a), _rate(b), _day(b))
    table.add_row("seed thresholds, point (CRITICAL)", _rate(gates["point"]), "-", "-")
    table.add_row("seed thresholds, Wilson upper bound", _rate(gates["upper_bound"]), "-", "-")
    console.print(table)
    verdict = "within" if aa.sequential.interval()[0] <= aa.alpha else "ABOVE"
    console.print(
        f"The sequential test's false-rollback rate is {verdict} α = {aa.alpha}; the naive daily test's is "
        f"{aa.naive.rate / aa.alpha:.1f}× α."
    )
    console.print(
        "The seed's absolute CRITICAL lines (win < 15 %, trifecta < 5 %) on the controller's windows "
        "(7 days, widened up to 28 until they hold 100 races) "
        f"fire on a challenger with win {aa.p_control:.0%} and trifecta {p_trifecta:.0%} in "
        f"{gates['point'].rate:.1%} of runs when the point values are compared (noise, not harm), and in "
        f"{gates['upper_bound'].rate:.1%} with the health policy's default rule (the Wilson 95 % upper "
        "bound must be below the line)."
    )


def auto(
    feature: str = typer.Argument(..., help="The feature whose rollout the controller drives."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the decision; change and record nothing."),
    config: str = typer.Option(
        "config/rollout_config.json", "--config", help="Rollout config JSON (the seed's format)."
    ),
    db: str | None = typer.Option(
        None,
        "--db",
        help="Use the rollout tables in this database (SQLAlchemy URL) instead of --config; "
        "the monitor ledger is read from it too unless --ledger is given.",
    ),
    ledger: str | None = typer.Option(
        None,
        "--ledger",
        help="Monitor ledger: a SQLAlchemy URL or a SQLite file path (default: --db, else data/monitor.db).",
    ),
    days_healthy: int = typer.Option(3, "--days-healthy", help="HEALTHY days at a stage needed to promote."),
    min_races: int | None = typer.Option(
        None,
        "--min-races",
        help="Challenger races (signals) a day needs to be evaluated (default: 10 for races, 1 for markets).",
    ),
    health: str | None = POLICY,
    alpha: float = typer.Option(0.05, "--alpha", help="Level of the sequential harm test."),
    srm_action: str = typer.Option(
        "hold", "--srm-action", help="What a sample-ratio mismatch does: hold | rollback."
    ),
    critical_rule: str | None = CRITICAL_RULE,
    challenger_variant: str | None = typer.Option(
        None,
        "--challenger-variant",
        help="Ledger variant of the cohort: default 'on' (GradualRollout.variant without a split); "
        "with an A/B/n split, every active variant is judged unless this names the one to judge.",
    ),
    control_variant: str = typer.Option(
        "control", "--control-variant", help="Ledger variant of the control group."
    ),
    shadow: str | None = typer.Option(
        None,
        "--shadow",
        help="Shadow mode: CHAMPION:CHALLENGER model versions that both scored every race (paired test).",
    ),
    health_window: int = typer.Option(
        7, "--health-window", help="Days pooled for each day's health verdict (widened, see below)."
    ),
    max_health_window: int | None = typer.Option(
        None,
        "--max-health-window",
        help="Widen a window holding fewer races than the policy's minimum a day at a time, up to this "
        "many days (default 28, or --health-window if larger).",
    ),
    through: str | None = typer.Option(
        None,
        "--through",
        help="Last day to read (default: yesterday, local time); days with results pending are skipped.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the decision as JSON."),
) -> None:
    """Run the automatic controller once for FEATURE: promote, hold or roll back.

    - HEALTHY for --days-healthy days with enough races: next stage (10% -> 50% -> 100%).
    - WARNING: hold.
    - CRITICAL, or significant harm by the always-valid sequential test: roll back to 'disabled' at once
      and notify (Slack / Discord / webhook / e-mail configured by the STAGEWISE_* variables).
    - Sample-ratio mismatch: hold (or roll back with --srm-action rollback).

    With --shadow the two model versions are compared on the same races (paired), which needs far fewer races.
    A kill switch is respected. Every decision except a --dry-run goes to the audit log with its numbers.
    """
    from datetime import datetime

    from stagewise._exceptions import ConfigError
    from stagewise.monitor import PerformanceMonitor
    from stagewise.notify import notifiers_from_env
    from stagewise.rollout import GradualRollout
    from stagewise.rollout.controller import ControllerPolicy, min_units_per_day
    from stagewise.rollout.controller_query import ControllerQuery
    from stagewise.rollout.controller_runner import run_controller
    from stagewise.rollout.health import load_policy

    if srm_action not in ("hold", "rollback"):
        raise ConfigError(f"--srm-action must be 'hold' or 'rollback'. Got {srm_action!r}.")
    last_day = None
    if through is not None:
        try:
            last_day = date.fromisoformat(through)
        except ValueError:
            raise ConfigError(f"--through must be a date YYYY-MM-DD. Got {through!r}.") from None
    versions = None
    if shadow is not None:
        parts = shadow.split(":")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"--shadow must be CHAMPION:CHALLENGER model versions. Got {shadow!r}.")
        versions = (parts[0], parts[1])
    ledger_url = ledger or db or "data/monitor.db"
    require_config(Path(config), db)
    health_policy = load_policy(health, critical_rule=critical_rule)
    if min_races is None:
        min_races = min_units_per_day(health_policy.domain)
    policy = ControllerPolicy(
        days_healthy=days_healthy,
        min_races_per_day=min_races,
        alpha=alpha,
        srm_action=srm_action,  # type: ignore[arg-type]
    )
    notifiers = [] if dry_run else notifiers_from_env()
    rollout = GradualRollout(config, db_url=db, refresh_interval=0, health_policy=health_policy)
    query = ControllerQuery(
        # local time: race days are local days, and "yesterday" must be the local yesterday
        feature, now=datetime.now().astimezone(), policy=policy, dry_run=dry_run, through=last_day,
        challenger_variant=challenger_variant, control_variant=control_variant,
        health_window_days=health_window, shadow=versions, max_health_window_days=max_health_window,
    )  # fmt: skip
    with PerformanceMonitor.open_for_reading(ledger_url, option="--ledger") as monitor:
        decision = run_controller(rollout, monitor, query, notifiers=notifiers)
    if as_json:
        typer.echo(json.dumps(decision.as_dict(), indent=2, ensure_ascii=False, allow_nan=False))
        return
    _print_decision(decision)


def _print_decision(decision: Decision) -> None:
    from rich.table import Table

    from stagewise._console import make_console, plain

    console = make_console()
    colour = {"promote": "green", "rollback": "bold red", "hold": "yellow", "none": "dim"}[decision.action]
    stages = f"{decision.from_stage} -> {decision.to_stage}"
    head = f"[{colour}]{decision.action.upper()}[/] {plain(decision.feature)}: {plain(stages)}"
    console.print(head + ("  [dim](dry run: nothing changed)[/]" if decision.dry_run else ""))
    numbers = decision.numbers
    variants = numbers.get("variants")
    if variants:  # A/B/n: one line per variant, then its reasons
        for name, judged in variants.items():
            moved = f"{judged['from_stage']} -> {judged['to_stage']}"
            console.print(f"  variant {plain(name)}: {judged['action'].upper()} ({plain(moved)})")
            for reason in judged["reasons"]:
                console.print(f"    • {plain(reason)}")
        family = numbers["family"]
        console.print(
            f"Holm over {family['size']} hypotheses (variants × metrics), "
            f"family-wise α = {family['alpha']:g}",
            markup=False,
        )
    else:
        for reason in decision.reasons:
            console.print(f"  • {plain(reason)}")
    cumulative = numbers.get("cumulative")
    if cumulative:
        table = Table(title="since the feature was enabled")
        for column in ("group", "races", "win hit rate", "score accuracy", "harm p (always valid)"):
            table.add_column(column, justify="right" if column != "group" else "left")
        seq = numbers.get("sequential", {})
        for group in ("challenger", "control"):
            row = cumulative[group]
            hit_p = seq.get("hit_rate_1st", {}).get("p_value") if group == "challenger" else None
            score_p = seq.get("avg_score_accuracy", {}).get("p_value") if group == "challenger" else None
            harm = "" if hit_p is None else f"win {hit_p:.3g} / score {score_p:.3g}"
            acc = row["avg_score_accuracy"]
            table.add_row(
                group,
                str(row["races"]),
                _pct(row["hit_rate_1st"]),
                "n/a" if acc is None else f"{acc:.3f}",
                harm,
            )
        console.print(table)
    srm = numbers.get("srm")
    if srm:
        p_value = srm["p_value"]
        console.print(
            f"SRM: counts {srm['counts']}, p = {'n/a' if p_value is None else f'{p_value:.3g}'} "
            f"-> {srm['verdict']}",
            markup=False,
        )
    if "healthy_streak" in numbers:
        console.print(f"healthy streak at this stage: {numbers['healthy_streak']} day(s)")
    economic = numbers.get("economic")
    if economic:
        means = economic["mean_per_unit"]
        shown = {k: "n/a" if v is None else f"{v:+.4f}" for k, v in means.items()}
        console.print(
            f"economic guardrail: {economic['status']} (money per unit: challenger {shown['challenger']} "
            f"over {economic['units']['challenger']}, control {shown['control']} over "
            f"{economic['units']['control']}; p = {economic['test']['p_value']:.3g})",
            markup=False,
        )
    if numbers.get("guardrails"):
        console.print(_guardrail_table(numbers["guardrails"]))
    for note in numbers.get("notifications", []):
        status = "sent" if note["ok"] else f"FAILED ({note['error']})"
        console.print(f"notification via {note['channel']}: {status}", markup=False)
