"""The whole lifecycle on embedded defaults: the seed's integrated workflow, end to end.

simulate → train a champion and a challenger → walk-forward backtest both → register them →
roll the challenger out at 10 % → replay live days (route, log, settle, stats, alerts, the
controller each morning) → the same with a degraded challenger that the controller must roll
back, notifying a local webhook → one HTML page over everything written.

``domain="markets"`` tells the same story on the bundled EURUSD hourly bars
(:mod:`stagewise.lifecycle.markets_demo`).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError
from stagewise.lifecycle.progress import DemoProgress, TextProgress
from stagewise.lifecycle.replay import DayOutcome
from stagewise.lifecycle.workdir import discard_workdir, prepare_workdir

__all__ = [
    "CHALLENGER_WEIGHTS",
    "DEFAULT_DAYS",
    "DEMO_MODEL",
    "DOMAINS",
    "HEALTH_WINDOW_DAYS",
    "TRAIN_DAYS",
    "DemoResult",
    "run_demo",
]

DOMAINS = ("races", "markets")
#: Live days replayed per challenger when ``days`` is not given, by domain (markets: calendar days;
#: 8 weeks are about 40 trading days).
DEFAULT_DAYS = {"races": 21, "markets": 56}

#: Smaller ensembles than the library defaults so the demo takes about a minute on two cores.
DEMO_MODEL: dict[str, Any] = {
    "lgbm_params": {"n_estimators": 60, "num_leaves": 15},
    "xgb_params": {"n_estimators": 60, "max_depth": 4},
    "rf_params": {"n_estimators": 40, "max_depth": 10},
}
#: The challenger leans on the boosters and drops the forest: a difference that changes its picks.
CHALLENGER_WEIGHTS = {"lightgbm": 0.6, "xgboost": 0.4, "random_forest": 0.0}
#: Days of simulated history the models learn from before the first live day.
TRAIN_DAYS = 90
#: Days the controller's health verdict starts from: its default week. At 10 % a day brings about 14
#: challenger races, so a week holds about 98, just under the seed table's 100-race minimum; the
#: controller widens the window a day at a time until it holds the minimum (up to 28 days).
HEALTH_WINDOW_DAYS = 7
#: Training days whose feature values are logged as the drift reference (``monitor drift``'s default window).
REFERENCE_DAYS = 28
STEPS = 6
GOOD, DEGRADED = "challenger_model", "degraded_model"


@dataclass(slots=True)
class DemoResult:
    """What the demo wrote and what the controller decided.

    ``good_run`` and ``degraded_run`` hold one :class:`~stagewise.lifecycle.replay.DayOutcome`
    per replayed day (markets: :class:`~stagewise.lifecycle.market_replay.MarketDayOutcome`, one
    per day with bars); ``notifications`` what the local webhook received (body, headers and
    whether its HMAC signature verified); ``report`` the index page.
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
    good_run: list[DayOutcome | Any] = field(default_factory=list)
    degraded_run: list[DayOutcome | Any] = field(default_factory=list)
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


def _check(domain: object, days: object, seed: object, model_params: object) -> None:
    if domain not in DOMAINS:
        raise ConfigError(f"The 'domain' option must be one of {list(DOMAINS)}. Got {domain!r}.")
    if isinstance(days, bool) or not isinstance(days, int) or not 7 <= days <= 120:
        raise ConfigError(f"The 'days' option must be an int in [7, 120]. Got {days!r}.")
    if domain == "markets":
        from stagewise.lifecycle.markets_demo import check_market_days
        from stagewise.lifecycle.markets_demo import span_days as market_span

        check_market_days(days, market_span())
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"The 'seed' option must be an int >= 0. Got {seed!r}.")
    if model_params is not None and not isinstance(model_params, dict):
        raise ConfigError(
            f"'model_params' must be a dict of ProductionEnsemble arguments. Got {model_params!r}."
        )


def _model_info(report: Any, version: str, notes: str) -> dict[str, Any]:
    scores = {s.name: s for s in report.scores}
    ensemble = scores["Ensemble"]
    return {
        "version": version,
        "win": ensemble.value,
        "low": ensemble.low,
        "high": ensemble.high,
        "lane": scores["lane order 1-2-3"].value if "lane order 1-2-3" in scores else None,
        "oracle": scores["oracle"].value if "oracle" in scores else None,
        "notes": notes,
    }


def _fit_on_shuffled_labels(history: pd.DataFrame, params: dict[str, Any], seed: int) -> Any:
    """A real ensemble that learned nothing: the winners were shuffled across all boats first."""
    from stagewise.features.races import race_entry_features
    from stagewise.models import ProductionEnsemble

    labels = (history["finish_position"] == 1).fillna(False).astype(int).to_numpy()
    shuffled = np.random.default_rng(seed + 7).permutation(labels)
    model = ProductionEnsemble(random_state=seed, **params)
    model.fit(race_entry_features(history), shuffled)
    return model


def run_demo(
    workdir: str | Path = "stagewise-demo",
    domain: str = "races",
    days: int | None = None,
    seed: int = 0,
    progress: DemoProgress | None = None,
    *,
    webhook_port: int = 0,
    model_params: dict[str, Any] | None = None,
) -> DemoResult:
    """Run the lifecycle in ``workdir``: ``days`` live days for a good challenger, then for a degraded one.

    ``days`` defaults to :data:`DEFAULT_DAYS` of the domain (21 race days; 56 calendar days of
    EURUSD bars, the 10 % stage alone needs about five weeks of bars). ``workdir`` must be new
    (or empty): the demo never overwrites an earlier run. ``progress``
    receives the narrative and the progress bars (default: plain lines on stdout).
    ``model_params`` replaces :data:`DEMO_MODEL` (e.g. tiny ensembles in tests). The webhook
    receiver listens on 127.0.0.1:``webhook_port`` (0: any free port).

    Examples
    --------
    >>> import tempfile
    >>> tiny = {k: {"n_estimators": 5} for k in ("lgbm_params", "xgb_params", "rf_params")}
    >>> result = run_demo(tempfile.mkdtemp(), days=7, progress=TextProgress(lambda _: None),
    ...                   model_params=tiny)  # doctest: +SKIP
    >>> result.report.name  # doctest: +SKIP
    'index.html'
    """
    from stagewise.lifecycle.webhook_receiver import WebhookReceiver

    if days is None:  # an unknown domain is refused by _check; the default only has to not fail first
        days = DEFAULT_DAYS.get(domain if isinstance(domain, str) else "races", DEFAULT_DAYS["races"])
    _check(domain, days, seed, model_params)
    say = progress or TextProgress()
    params = dict(DEMO_MODEL if model_params is None else model_params)
    started = time.perf_counter()
    root = Path(workdir)
    secret = secrets.token_hex(16)
    # The port is taken before anything is written: a port in use stores nothing.
    existed = root.exists()
    with WebhookReceiver(webhook_port, secret=secret) as receiver:
        prepare_workdir(root)
        try:
            result = _run_in(root, domain, seed, days, say, params, model_params, receiver, secret, started)
        except BaseException:
            discard_workdir(root, existed=existed)  # a failed or interrupted run never blocks a retry
            raise
    return result


def _run_in(
    root: Path, domain: str, seed: int, days: int, say: DemoProgress, params: dict[str, Any],
    model_params: Any, receiver: Any, secret: str, started: float,
) -> DemoResult:  # fmt: skip
    """The demo proper, in the prepared ``root``."""
    result = DemoResult(
        workdir=root,
        domain=domain,
        seed=seed,
        days=days,
        report=root / "report" / "index.html",
        summary_path=root / "report" / "demo_summary.json",
    )
    if domain == "markets":
        from stagewise.lifecycle.markets_demo import run_markets

        run_markets(result, say, model_params, receiver, secret, started)
    else:
        _run(result, say, params, receiver, secret, started)
    result.seconds = time.perf_counter() - started
    _write_outputs(result, say)
    return result


def _run(
    result: DemoResult, say: DemoProgress, params: dict[str, Any], receiver: Any, secret: str, started: float
) -> None:
    from stagewise.data import simulate_races
    from stagewise.lifecycle.steps import (
        FEATURE_SAMPLE_PER_DAY,
        backtest_both,
        hand_over_challenger,
        register_both,
        replay_feature,
    )
    from stagewise.models.registry import ModelRegistry
    from stagewise.models.training import train_races

    root, seed, days = result.workdir, result.seed, result.days
    first = pd.Timestamp("2025-01-01")
    live_start = first + pd.Timedelta(days=TRAIN_DAYS)
    last = live_start + pd.Timedelta(days=2 * days - 1)
    say.step(
        1,
        STEPS,
        "Simulate races",
        f"{TRAIN_DAYS} days of simulated kyotei races (from {first.date()}) "
        f"to learn from, then 2 × {days} 'live' days the models never see in training. The simulator "
        "knows each boat's true win probability, so every score can sit beside the best achievable.",
    )
    races = simulate_races(first, last, seed=seed)
    races.to_parquet(root / "data" / "races.parquet")
    history = races.loc[races["race_date"] < live_start]
    live = races.loc[races["race_date"] >= live_start]
    live_days = sorted(live["race_date"].unique())
    say.note(
        f"{history['race_id'].nunique():,} races to learn from, {live['race_id'].nunique():,} live races."
    )

    say.step(
        2,
        STEPS,
        "Train a champion and a challenger, then walk-forward backtest both",
        "The champion is the seed's soft vote (LightGBM 0.4, XGBoost 0.4, RandomForest 0.2); the "
        "challenger drops the forest (0.6 / 0.4 / 0). Each is scored on held-out days beside lane "
        "order 1-2-3 and the oracle, then walk-forward backtested so no test day was ever trained on.",
    )
    candidates = {"champion": params, "challenger": {**params, "weights": CHALLENGER_WEIGHTS}}
    say.start("training", len(candidates))
    reports = {}
    for name, model_params in candidates.items():
        reports[name] = train_races(history, days=TRAIN_DAYS, model_params=model_params, random_state=seed)
        say.advance()
    say.finish()
    for name, report in reports.items():
        scores = {s.name: s for s in report.scores}
        say.note(
            f"{name}: held-out win hit {scores['Ensemble'].value:.1%} "
            f"[{scores['Ensemble'].low:.1%}, {scores['Ensemble'].high:.1%}] "
            f"(lane order {scores['lane order 1-2-3'].value:.1%}, oracle {scores['oracle'].value:.1%})"
        )
    result.backtests = backtest_both(history, candidates, root / "backtest", seed, say)

    registry = ModelRegistry(root / "models")
    versions = register_both(registry, reports, say, STEPS, note_suffix="")
    for name, report in reports.items():
        result.models[name] = _model_info(report, versions[name], f"demo {name}")

    from stagewise.monitor import PerformanceMonitor
    from stagewise.notify import WebhookNotifier
    from stagewise.rollout import GradualRollout

    now = [datetime.combine(live_start.date(), datetime.min.time())]
    rollout = GradualRollout(root / "config" / "rollout_config.json", now=lambda: now[0], actor="demo")
    monitor = PerformanceMonitor(
        f"sqlite:///{root / 'data' / 'monitor.db'}", notifiers=[], clock=lambda: now[0]
    )
    notifier = WebhookNotifier(receiver.url, secret=secret)
    _log_reference_features(monitor, history, FEATURE_SAMPLE_PER_DAY)
    try:
        say.step(
            4,
            STEPS,
            f"Roll the challenger out at 10 % and replay {days} live days",
            "Each race is routed by its bucket (GradualRollout.variant: 'on' → challenger, 'control' → "
            "champion), its prediction logged before the start and its result after it; daily stats and "
            "alerts are computed, and each next morning the controller promotes (10 % → 50 % → 100 %) after "
            f"3 healthy days (health judged over the last {HEALTH_WINDOW_DAYS} days at the stage), holds, or "
            "rolls back.",
        )
        rollout.add_feature(
            GOOD, "10%", salt=f"{GOOD}:{seed}", reason="walk-forward backtest passed", actor="demo"
        )
        good_days = live.loc[live["race_date"].isin(live_days[:days])]
        result.good_run = replay_feature(
            good_days,
            rollout,
            monitor,
            GOOD,
            registry,
            notifier,
            now,
            say,
            days_after_rollback=None,
            health_window_days=HEALTH_WINDOW_DAYS,
            feature_sample_per_day=FEATURE_SAMPLE_PER_DAY,
        )
        final = result.good_run[-1].stage_after if result.good_run else "10%"
        hand_over_challenger(registry, rollout, GOOD, versions["challenger"], final, say, "race")

        say.step(
            5,
            STEPS,
            "Once more with a degraded challenger",
            "An ensemble fitted on shuffled labels (it learned nothing) is registered as the challenger "
            "and rolled out at 10 %. The controller should roll it back on its own and tell the webhook "
            f"receiver listening on {receiver.url}.",
        )
        degraded = _fit_on_shuffled_labels(history, params, seed)
        bad_version = registry.save(
            degraded,
            data_window=reports["champion"].train_window,
            notes="demo: degraded on purpose (shuffled labels)",
        )
        registry.set_alias("challenger", bad_version)
        result.models["degraded"] = {
            "version": bad_version,
            "win": None,
            "low": None,
            "high": None,
            "notes": "fitted on shuffled labels",
        }
        rollout.add_feature(
            DEGRADED,
            "10%",
            salt=f"{DEGRADED}:{seed}",
            reason="demo: a deliberately degraded model",
            actor="demo",
        )
        bad_days = live.loc[live["race_date"].isin(live_days[days:])]
        result.degraded_run = replay_feature(
            bad_days,
            rollout,
            monitor,
            DEGRADED,
            registry,
            notifier,
            now,
            say,
            days_after_rollback=1,
            health_window_days=HEALTH_WINDOW_DAYS,
            feature_sample_per_day=FEATURE_SAMPLE_PER_DAY,
        )
        if any(d.action == "rollback" for d in result.degraded_run):
            registry.remove_alias("challenger")
        result.notifications = list(receiver.received)
        for item in result.notifications:
            body = item["body"] if isinstance(item["body"], dict) else {}
            say.note(
                f"webhook received: {body.get('title', item['body'])!s} "
                f"(signature {'verified' if item['signature_ok'] else 'NOT verified'})"
            )

        say.step(
            6,
            STEPS,
            "Write the reports",
            "The monitor's trend report, then one page linking the backtests, the monitor, each day's "
            "controller decision, the rollout history and the verified audit log.",
        )
        from stagewise.lifecycle.report import write_report

        n_days = (last - live_start).days + 1
        monitor_paths = monitor.generate_report(n_days, root / "report" / "monitor.txt", end_date=last.date())
        audit = rollout.verify_audit()
        result.audit_ok, result.audit_entries = audit.ok, audit.entries
        result.registry_events = registry.history()
        result.seconds = time.perf_counter() - started
        write_report(
            result.report,
            result=result,
            audit=rollout.audit_log(),
            audit_report=audit,
            monitor_report=monitor_paths,
        )
    finally:
        monitor.close()
        rollout.close()


def _log_reference_features(monitor: Any, history: pd.DataFrame, per_day: int) -> None:
    """Log the feature sample of the last :data:`REFERENCE_DAYS` training days, the reference that drift
    (``monitor drift``, the dashboard) compares the live days with."""
    from stagewise.features.races import race_entry_features

    days = sorted(history["race_date"].unique())[-REFERENCE_DAYS:]
    for day_value, frame in history.loc[history["race_date"].isin(days)].groupby("race_date", sort=True):
        day = pd.Timestamp(str(day_value)).date()
        monitor.log_features(day, race_entry_features(frame), max_rows_per_day=per_day)


def _write_outputs(result: DemoResult, say: DemoProgress) -> None:
    result.summary_path.write_text(
        json.dumps(result.as_dict(), ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    say.note(f"Index page: {result.report}")
    days = [d.day for d in (*result.good_run, *result.degraded_run)]
    say.note(f"Go on with it: cd {result.workdir} && stagewise serve   (or: stagewise dashboard --workdir .)")
    if result.domain == "races" and days:
        drift = f"stagewise monitor drift --end-date {max(days)} --no-alert"
        say.note(f"Feature drift of the last live week: {drift}")
