"""The demo's one story, told for any domain by a :class:`~stagewise.lifecycle.scenario.Scenario`.

data → train a champion and a challenger → walk-forward backtest both → register them → roll the
challenger out at 10 % and replay live days (route, log, settle, stats, alerts, the controller
at each day's turn) → the same with a degraded challenger that the controller must roll back,
notifying a local webhook → one HTML page over everything written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic

import pandas as pd

from stagewise.lifecycle.progress import DemoProgress
from stagewise.lifecycle.report import DomainSections, write_report
from stagewise.lifecycle.scenario import DayRecord, DayT, Deployment, LiveData, Scenario
from stagewise.lifecycle.steps import backtest_both, hand_over_challenger, register_both

if TYPE_CHECKING:
    from stagewise.lifecycle.webhook_receiver import WebhookReceiver
    from stagewise.models.ensemble import EnsembleParams
    from stagewise.models.registry import ModelRegistry
    from stagewise.models.training import TrainingReport

__all__ = ["DEGRADED", "GOOD", "STEPS", "DemoResult", "tell"]

STEPS = 6
GOOD, DEGRADED = "challenger_model", "degraded_model"


@dataclass(slots=True)
class DemoResult:
    """What the demo wrote and what the controller decided.

    ``good_run`` and ``degraded_run`` hold one record per replayed day (races:
    :class:`~stagewise.lifecycle.replay.DayOutcome`; markets:
    :class:`~stagewise.lifecycle.market_replay.MarketDayOutcome`, one per day with bars);
    ``notifications`` what the local webhook received (body, headers and whether its HMAC
    signature verified); ``report`` the index page.
    """

    workdir: Path
    domain: str
    seed: int
    days: int
    report: Path
    summary_path: Path
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    backtests: dict[str, dict[str, Any]] = field(default_factory=dict)
    features: dict[str, str] = field(default_factory=lambda: {"good": GOOD, "degraded": DEGRADED})
    good_run: Sequence[DayRecord] = field(default_factory=list)
    degraded_run: Sequence[DayRecord] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    registry_events: list[dict[str, Any]] = field(default_factory=list)
    audit_ok: bool = False
    audit_entries: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (paths as strings), as written to ``report/demo_summary.json``."""
        return {
            "workdir": str(self.workdir),
            "domain": self.domain,
            "seed": self.seed,
            "days": self.days,
            "report": str(self.report),
            "models": self.models,
            "backtests": self.backtests,
            "features": self.features,
            "good_run": [d.as_dict() for d in self.good_run],
            "degraded_run": [d.as_dict() for d in self.degraded_run],
            "notifications": self.notifications,
            "registry_events": self.registry_events,
            "audit_ok": self.audit_ok,
            "audit_entries": self.audit_entries,
            "seconds": round(self.seconds, 1),
        }


@dataclass(slots=True)
class _Run(Generic[DayT]):
    """One telling: the scenario, where the narrative goes, and what every step reads."""

    scenario: Scenario[DayT]
    result: DemoResult
    say: DemoProgress
    receiver: WebhookReceiver

    def step(self, number: int) -> None:
        title, why = self.scenario.step_text(number, self.result.days, self.receiver.url)
        self.say.step(number, STEPS, title, why)


def tell(
    scenario: Scenario[DayT],
    result: DemoResult,
    say: DemoProgress,
    model_params: EnsembleParams | None,
    receiver: WebhookReceiver,
    secret: str,
    started: float,
) -> None:
    """Tell the story into ``result`` in its prepared work directory, then write its summary."""
    from stagewise.models.registry import ModelRegistry

    run = _Run(scenario, result, say, receiver)
    run.step(1)
    data = scenario.load(result.workdir, result.days, result.seed)
    say.note(data.summary)
    candidates = scenario.candidates(model_params)
    reports = _train_and_backtest(run, data, candidates)
    registry = ModelRegistry(result.workdir / "models")
    versions = register_both(registry, reports, say, STEPS, note_suffix=scenario.register_note)
    for name, report in reports.items():
        result.models[name] = scenario.model_info(report, versions[name], f"demo {name}")
    deployment = _deploy(run, data, registry, secret)
    try:
        run.step(4)
        good = _roll_out(run, deployment, GOOD, data.good, "walk-forward backtest passed", None)
        result.good_run = good
        final = good[-1].stage_after if good else "10%"
        hand_over_challenger(
            registry, deployment.rollout, GOOD, versions["challenger"], final, say, scenario.unit
        )
        degraded = _roll_out_degraded(run, deployment, data, candidates["champion"], reports["champion"])
        _show_notifications(run)
        run.step(6)
        _write_reports(run, deployment, data, good, degraded, started)
    finally:
        deployment.monitor.close()
        deployment.rollout.close()
    result.seconds = time.perf_counter() - started
    _write_summary(run)


def _train_and_backtest(
    run: _Run[DayT], data: LiveData, candidates: Mapping[str, EnsembleParams]
) -> dict[str, TrainingReport]:
    """Step 2: fit each candidate and score it on held-out days, then walk-forward backtest both."""
    run.step(2)
    say, seed = run.say, run.result.seed
    say.start("training", len(candidates))
    reports = {}
    for name, params in candidates.items():
        reports[name] = run.scenario.train(data.history, params, seed)
        say.advance()
    say.finish()
    for name, report in reports.items():
        say.note(run.scenario.training_note(name, report))
    out_dir = run.result.workdir / "backtest"
    run.result.backtests = backtest_both(data.history, candidates, out_dir, seed, say, run.scenario)
    return reports


def _deploy(run: _Run[DayT], data: LiveData, registry: ModelRegistry, secret: str) -> Deployment:
    """The rollout store and the ledger of the work directory, on one simulated clock."""
    from stagewise.monitor import PerformanceMonitor
    from stagewise.notify import WebhookNotifier
    from stagewise.rollout import GradualRollout

    root = run.result.workdir
    now = [datetime.combine(data.first_live, datetime.min.time())]
    rollout = GradualRollout(
        root / "config" / "rollout_config.json",
        now=lambda: now[0],
        actor="demo",
        health_policy=run.scenario.health_policy,
    )
    monitor = PerformanceMonitor(
        f"sqlite:///{root / 'data' / 'monitor.db'}", notifiers=[], clock=lambda: now[0]
    )
    notifier = WebhookNotifier(run.receiver.url, secret=secret)
    run.scenario.prepare_monitor(monitor, data)
    return Deployment(registry, rollout, monitor, notifier, now)


def _roll_out(
    run: _Run[DayT],
    deployment: Deployment,
    feature: str,
    frame: pd.DataFrame,
    reason: str,
    days_after_rollback: int | None,
) -> list[DayT]:
    """Start ``feature`` at 10 % and replay ``frame`` through the rollout and the controller."""
    say = run.say
    deployment.rollout.add_feature(
        feature, "10%", salt=f"{feature}:{run.result.seed}", reason=reason, actor="demo"
    )
    models = deployment.served("production"), deployment.served("challenger")
    say.start(f"replaying {feature}", run.scenario.days_in(frame))

    def on_day(day: DayT) -> None:
        say.advance()
        say.note(run.scenario.day_line(day))

    outcomes = run.scenario.replay(frame, feature, deployment, models, on_day, days_after_rollback)
    say.finish()
    return outcomes


def _roll_out_degraded(
    run: _Run[DayT],
    deployment: Deployment,
    data: LiveData,
    params: EnsembleParams,
    champion: TrainingReport,
) -> list[DayT]:
    """Step 5: a model wrong on purpose is registered as the challenger, rolled out and rolled back."""
    run.step(5)
    registry, result = deployment.registry, run.result
    model = run.scenario.fit_degraded(data.history, params, result.seed)
    notes, info = run.scenario.degraded_info()
    version = registry.save(model, data_window=champion.train_window, notes=notes)
    registry.set_alias("challenger", version)
    result.models["degraded"] = {"version": version, **info}
    outcomes = _roll_out(run, deployment, DEGRADED, data.degraded, "demo: a deliberately degraded model", 1)
    result.degraded_run = outcomes
    if any(d.action == "rollback" for d in outcomes):
        registry.remove_alias("challenger")
    else:
        for line in run.scenario.not_rolled_back(outcomes, result.days):
            run.say.note(line)
    return outcomes


def _show_notifications(run: _Run[DayT]) -> None:
    run.result.notifications = list(run.receiver.received)
    for item in run.result.notifications:
        body = item["body"] if isinstance(item["body"], dict) else {}
        run.say.note(
            f"webhook received: {body.get('title', item['body'])!s} "
            f"(signature {'verified' if item['signature_ok'] else 'NOT verified'})"
        )


def _write_reports(
    run: _Run[DayT],
    deployment: Deployment,
    data: LiveData,
    good: Sequence[DayT],
    degraded: Sequence[DayT],
    started: float,
) -> None:
    """Step 6: the monitor's report over the live days, then the index page over everything."""
    result, scenario, rollout = run.result, run.scenario, deployment.rollout
    monitor_paths = scenario.write_monitor_report(deployment.monitor, data, result.workdir / "report")
    audit = rollout.verify_audit()
    result.audit_ok, result.audit_entries = audit.ok, audit.entries
    result.registry_events = deployment.registry.history()
    result.seconds = time.perf_counter() - started
    sections = DomainSections(
        models=scenario.models_table(result.models),
        backtests=scenario.backtests_table(result.backtests, result.report.parent),
        good_days=scenario.day_table(good),
        degraded_days=scenario.day_table(degraded),
    )
    write_report(
        result.report,
        result=result,
        sections=sections,
        audit=rollout.audit_log(),
        audit_report=audit,
        monitor_report=monitor_paths,
    )


def _write_summary(run: _Run[DayT]) -> None:
    result = run.result
    result.summary_path.write_text(
        json.dumps(result.as_dict(), ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    run.say.note(f"Index page: {result.report}")
    days = [d.day for d in (*result.good_run, *result.degraded_run)]
    run.say.note(
        f"Go on with it: cd {result.workdir} && stagewise serve   (or: stagewise dashboard --workdir .)"
    )
    for line in run.scenario.closing_notes(days):
        run.say.note(line)
