"""``stagewise rollout``: stages, status, plan, health, audit log and kill switch of gradual rollouts.

Every command reads the config given by ``--config`` (the seed's JSON file, default
``config/rollout_config.json``) or, with ``--db``, the rollout tables of a database
(e.g. the monitor's ``sqlite:///data/monitor.db``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from stagewise.cli._rollout_options import (
    ACCEPT_MANUAL_EDIT,
    AS_JSON,
    CONFIG,
    CRITICAL_RULE,
    DB,
    POLICY,
    echo_json,
    open_rollout,
    require_config,
)

app = typer.Typer(
    help="Gradual rollout: set stages (10% → 50% → 100%), check health, read and verify the audit log, kill.",
    no_args_is_help=True,
)

ACTOR = typer.Option(None, "--actor", help="Who to record in the audit log (default user@host).")
LANG = typer.Option("en", "--lang", help="Language of descriptions: en or ja.")
FROM_JSON = typer.Option(None, "--from-json", help="Read the metrics dict from this JSON file.")
WEIGHTS = typer.Argument(None, help="NAME=WEIGHT pairs summing to 1, e.g. iso=0.5 platt=0.5.")
REF = typer.Option(
    "challenger", "--ref", help="The model to promote: alias or version ('production' if already promoted)."
)
MODELS = typer.Option(Path("models"), "--models", help="Model registry directory.")
RACE_IDS = typer.Argument(..., help="Race ids (text; an int id hashes as its decimal text).")


def _lang(value: str) -> Any:
    from stagewise._exceptions import ConfigError

    if value not in ("en", "ja"):
        raise ConfigError(f"--lang must be 'en' or 'ja'. Got {value!r}.")
    return value


@app.command("set")
def set_stage(
    feature: str = typer.Argument(..., help="Feature name, e.g. probability_calibration."),
    stage: str = typer.Argument(..., help="disabled, 10%, 50%, 100% or any percentage such as 12.5%."),
    reason: str = typer.Option(..., "--reason", help="Why: recorded in the audit log."),
    create: bool = typer.Option(
        False, "--create", help="Create the feature (salted bucketing) if it is new."
    ),
    salt: str = typer.Option(None, "--salt", help="With --create: the salt (default: the feature name)."),
    accept_manual_edit: bool = ACCEPT_MANUAL_EDIT,
    actor: str = ACTOR,
    config: Path = CONFIG,
    db: str = DB,
) -> None:
    """Move FEATURE to STAGE (audited). Units enabled at a lower stage stay enabled at a higher one."""
    with open_rollout(config, db, create=create) as rollout:
        features = rollout.get_rollout_status()["feature_rollouts"]
        if feature not in features:
            if not create:
                from stagewise._exceptions import NotFoundError

                known = ", ".join(sorted(features)) or "none yet"
                raise NotFoundError(
                    f"Unknown rollout feature {feature!r} in {rollout.store.location}. "
                    f"Known features: {known}. Pass --create to create it."
                )
            info = rollout.add_feature(
                feature, stage, salt=salt, reason=reason, actor=actor, accept_manual_edit=accept_manual_edit
            )
            typer.echo(f"{feature}: created at {info['stage']} ({info['hash_mode']}, salt {info['salt']!r})")
            return
        before = rollout.feature(feature).stage.name
        info = rollout.update_rollout_stage(
            feature, stage, reason=reason, actor=actor, accept_manual_edit=accept_manual_edit
        )
    change = "unchanged" if before == info["stage"] else f"{before} -> {info['stage']}"
    typer.echo(f"{feature}: {change} (enabled_at {info['enabled_at']})")


@app.command("add")
def add(
    feature: str = typer.Argument(..., help="New feature name (letters, digits, _ . : -)."),
    stage: str = typer.Option("disabled", "--stage", help="Initial stage."),
    salt: str = typer.Option(None, "--salt", help="Salt for the bucketing (default: the feature name)."),
    legacy: bool = typer.Option(
        False, "--legacy", help="Use the seed's MD5 buckets 0-99 instead of salting."
    ),
    reason: str = typer.Option(None, "--reason", help="Why: recorded in the audit log."),
    accept_manual_edit: bool = ACCEPT_MANUAL_EDIT,
    actor: str = ACTOR,
    config: Path = CONFIG,
    db: str = DB,
) -> None:
    """Create a feature. New features get their own salt, so their cohorts are independent of others."""
    mode = "legacy-md5" if legacy else "blake2b-64"
    with open_rollout(config, db, create=True) as rollout:
        info = rollout.add_feature(
            feature, stage, salt=salt, hash_mode=mode, reason=reason, actor=actor,
            accept_manual_edit=accept_manual_edit,
        )  # fmt: skip
    typer.echo(f"{feature}: created at {info['stage']} ({info['hash_mode']})")


@app.command("status")
def status(config: Path = CONFIG, db: str = DB, as_json: bool = AS_JSON) -> None:
    """Every feature's stage, since when it is enabled, its bucketing and kill switch.

    Warns (on stderr; ``manual_edit`` in --json) when the config was edited outside stagewise.
    """
    with open_rollout(config, db) as rollout:
        result = rollout.get_rollout_status()
        edit = rollout.manual_edit()
        location = rollout.store.location
    if as_json:
        echo_json({**result, "manual_edit": None if edit is None else edit.to_dict()})
        return
    if edit is not None:
        typer.echo(
            f"WARNING: {edit.describe(location)}. Writes refuse it until one passes --accept-manual-edit "
            "--reason '...' (the kill switch always works).",
            err=True,
        )
    from rich.table import Table

    from stagewise._console import cell, make_console

    table = Table(title=f"Rollout status (updated {result['updated_at'] or 'never'})")
    table.add_column("feature", no_wrap=True)
    for column in ("stage", "enabled_at", "hash_mode", "killed"):
        table.add_column(column)
    for name, info in result["feature_rollouts"].items():
        killed = info.get("killed")
        table.add_row(
            cell(name),
            cell(info["stage"]),
            cell(info["enabled_at"] or "-"),
            cell(info["hash_mode"]),
            cell(f"{killed['reason']} ({str(killed['at'])[:10]})" if killed else "-"),
        )
    make_console().print(table)


@app.command("plan")
def plan(
    feature: str = typer.Argument(..., help="Feature name."),
    lang: str = LANG,
    config: Path = CONFIG,
    db: str = DB,
    as_json: bool = AS_JSON,
) -> None:
    """The ramp disabled → 10% → 50% → 100% with target dates, and the rollback criteria."""
    with open_rollout(config, db) as rollout:
        result = rollout.rollout_plan(feature, lang=_lang(lang))
    if as_json:
        echo_json(result)
        return
    typer.echo(f"Rollout plan for {result['feature_name']} (now {result['current_stage']})")
    for step in result["stages"]:
        when = step.get("target_date", "-")
        typer.echo(f"  {step['stage']:>8}  {when:>10}  {step['duration']:<12} {step['description']}")
    typer.echo("Rollback if:")
    for criterion in result["rollback_criteria"]:
        typer.echo(f"  - {criterion}")


@app.command("health")
def health(
    feature: str = typer.Argument(..., help="Feature name."),
    hit_rate_1st: float = typer.Option(None, "--hit-rate-1st", help="Win hit rate (0-1)."),
    hit_rate_top3: float = typer.Option(None, "--hit-rate-top3", help="Trifecta hit rate (0-1)."),
    score_accuracy: float = typer.Option(None, "--score-accuracy", help="Average score accuracy (0-1)."),
    error_rate: float = typer.Option(0.0, "--error-rate", help="Share of failed predictions (0-1)."),
    races: int = typer.Option(
        None, "--races", help="Races behind the figures (below the minimum: no verdict)."
    ),
    from_json: Path | None = FROM_JSON,
    policy: str | None = POLICY,
    critical_rule: str | None = CRITICAL_RULE,
    fail_on: str = typer.Option(
        None, "--fail-on", help="Exit 3 at this status or worse: warning or critical."
    ),
    lang: str = LANG,
    config: Path = CONFIG,
    db: str = DB,
    as_json: bool = AS_JSON,
) -> None:
    """Grade the feature's metrics with the seed's table: HEALTHY, WARNING, CRITICAL or INSUFFICIENT_DATA."""
    from stagewise._exceptions import ConfigError, DataValidationError
    from stagewise.rollout import GradualRollout
    from stagewise.rollout.health import load_policy

    if fail_on not in (None, "warning", "critical"):
        raise ConfigError(f"--fail-on must be 'warning' or 'critical'. Got {fail_on!r}.")
    if from_json is not None:
        try:
            metrics = json.loads(from_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataValidationError(
                f"--from-json {str(from_json)!r} is not a readable JSON file: {exc}"
            ) from None
    else:
        metrics = {
            "hit_rate_1st": hit_rate_1st,
            "hit_rate_top3": hit_rate_top3,
            "avg_score_accuracy": score_accuracy,
            "error_rate": error_rate,
        }
        missing = [f"--{k.replace('_', '-')}" for k, v in metrics.items() if v is None]
        if missing:
            named = ", ".join(missing).replace("--avg-score-accuracy", "--score-accuracy")
            raise DataValidationError(f"Give {named} or --from-json.")
        if races is not None:
            metrics["total_races"] = races
    health_policy = load_policy(policy, critical_rule=critical_rule)
    require_config(config, db)
    with GradualRollout(config, db_url=db, refresh_interval=0, health_policy=health_policy) as rollout:
        result = rollout.check_rollout_health(feature, metrics, lang=_lang(lang))
    if as_json:
        echo_json(result)
    else:
        typer.echo(f"{result['feature_name']}: {result['status']} -> {result['action']}")
        for label, items in (("issue", result["issues"]), ("warning", result["warnings"])):
            for item in items:
                typer.echo(f"  {label}: {item}")
        for item in result["recommendations"]:
            typer.echo(f"  recommendation: {item}")
    failing = {"warning": ("WARNING", "CRITICAL"), "critical": ("CRITICAL",)}.get(fail_on or "", ())
    if result["status"] in failing:
        raise typer.Exit(3)


@app.command("audit")
def audit(
    verify: bool = typer.Option(
        False, "--verify", help="Check the hash chain; exit 1 if it was tampered with."
    ),
    feature: str = typer.Option(None, "--feature", help="Only entries of this feature."),
    limit: int = typer.Option(20, "--limit", min=0, help="Show the last N entries (0: all)."),
    config: Path = CONFIG,
    db: str = DB,
    as_json: bool = AS_JSON,
) -> None:
    """Show the audit log (who, when, why, old -> new stage), or verify its hash chain."""
    with open_rollout(config, db) as rollout:
        if verify:
            report = rollout.verify_audit()
            if as_json:
                echo_json(report.to_dict())
            else:
                verdict = "OK" if report.ok else "TAMPERED"
                typer.echo(f"audit log {verdict}: {report.entries} entries, head seq {report.head_seq}")
                for problem in report.problems:
                    typer.echo(f"  problem: {problem}")
                for note in report.notes:
                    typer.echo(f"  note: {note}")
            if not report.ok:
                raise typer.Exit(1)
            return
        entries = [e for e in rollout.audit_log() if feature is None or e.get("feature") == feature]
    shown = entries[-limit:] if limit > 0 else entries
    if as_json:
        echo_json(shown)
        return
    for e in shown:
        why = f"  ({e['reason']})" if e.get("reason") else ""
        typer.echo(
            f"{e['seq']:>5} {e['at']} {e['actor']}: {e['action']} {e['feature']} "
            f"{e.get('old_stage')} -> {e.get('new_stage')}{why}"
        )


@app.command("kill")
def kill(
    feature: str = typer.Argument(None, help="Feature to disable (or --all)."),
    all_features: bool = typer.Option(False, "--all", help="Disable every feature."),
    reason: str = typer.Option(..., "--reason", help="Why: recorded with the kill."),
    actor: str = ACTOR,
    config: Path = CONFIG,
    db: str = DB,
) -> None:
    """Kill switch: disable a feature (or all) everywhere at once, audited."""
    from stagewise._exceptions import ConfigError
    from stagewise.rollout import ALL_FEATURES

    if all_features == (feature is not None):
        raise ConfigError("Give either a FEATURE or --all (not both, not neither).")
    with open_rollout(config, db) as rollout:
        killed = rollout.kill(ALL_FEATURES if all_features else feature, reason=reason, actor=actor)
    typer.echo(f"killed: {', '.join(killed) or 'nothing (no features)'}")


@app.command("complete")
def complete(
    feature: str = typer.Argument(..., help="The feature that routed races to the challenger."),
    reason: str = typer.Option(..., "--reason", help="Why: recorded in the audit log."),
    ref: str = REF,
    models: Path = MODELS,
    actor: str = ACTOR,
    config: Path = CONFIG,
    db: str = DB,
) -> None:
    """Finish a promotion: complete FEATURE's rollout, promote --ref, drop its 'challenger' alias (audited).

    Every race then goes to the champion (the promoted model) and nothing waits for a challenger.
    """
    from stagewise._exceptions import ConfigError
    from stagewise.models import ModelRegistry
    from stagewise.rollout.promotion import finish_promotion

    if not models.is_dir():
        raise ConfigError(f"--models {str(models)!r} is not a directory; point it at a ModelRegistry root.")
    with open_rollout(config, db) as rollout:
        registry = ModelRegistry(models)
        version = finish_promotion(registry, rollout, feature, reason=reason, ref=ref, actor=actor)
    typer.echo(f"{feature}: completed; {version} is production and champion, every race goes to it")


@app.command("variants")
def variants(
    feature: str = typer.Argument(..., help="Feature name."),
    weights: list[str] = WEIGHTS,
    clear: bool = typer.Option(False, "--clear", help="Remove the split (enabled races are simply 'on')."),
    reason: str = typer.Option(None, "--reason", help="Why: recorded in the audit log."),
    accept_manual_edit: bool = ACCEPT_MANUAL_EDIT,
    actor: str = ACTOR,
    config: Path = CONFIG,
    db: str = DB,
) -> None:
    """Split FEATURE's enabled races between A/B/n variants, e.g. ``iso=0.5 platt=0.5`` (audited)."""
    from stagewise._exceptions import ConfigError

    if clear == bool(weights):
        raise ConfigError("Give either NAME=WEIGHT pairs or --clear (not both, not neither).")
    split: dict[str, float] | None = None
    if weights:
        split = {}
        for pair in weights:
            name, sep, value = pair.partition("=")
            try:
                if not sep:
                    raise ValueError(pair)
                split[name] = float(value)
            except ValueError:
                raise ConfigError(f"Variants are given as NAME=WEIGHT, e.g. iso=0.5. Got {pair!r}.") from None
    with open_rollout(config, db) as rollout:
        info = rollout.set_variants(
            feature, split, reason=reason, actor=actor, accept_manual_edit=accept_manual_edit
        )
    shown = ", ".join(f"{k}={v:g}" for k, v in (info.get("variants") or {}).items()) or "none"
    typer.echo(f"{feature}: variants {shown} at {info['stage']}")


@app.command("check")
def check(
    feature: str = typer.Argument(..., help="Feature name."),
    race_ids: list[str] = RACE_IDS,
    config: Path = CONFIG,
    db: str = DB,
) -> None:
    """Show each race's bucket and whether FEATURE is enabled for it."""
    with open_rollout(config, db) as rollout:
        state = rollout.feature(feature)
        for race_id in race_ids:
            on = rollout.should_enable_feature(feature, race_id)
            bucket = rollout.bucket(feature, race_id)
            group = rollout.variant(feature, race_id) if on else "off"
            typer.echo(f"{race_id}: bucket {bucket} ({state.hash_mode}) at {state.stage.name}: {group}")


from stagewise.cli import rollout_auto  # noqa: E402  (simulate-aa and auto live in their own module)

rollout_auto.register(app)

from stagewise.cli import rollout_decisions  # noqa: E402  (the decision record lives in its own module)

rollout_decisions.register(app)
