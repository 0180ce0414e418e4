"""The whole lifecycle on embedded defaults: the seed's integrated workflow, end to end.

simulate → train champion and challenger → walk-forward backtest → register → roll the
challenger out at 10 % → replay live days (route, log, settle, stats, alerts, controller) →
repeat with a degraded challenger that the controller must roll back, notifying a local
webhook → one index page linking every output.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stagewise._exceptions import ConfigError, StorageError

__all__ = ["DEMO_MODEL", "DemoResult", "run_demo"]

Say = Callable[[str], None]

#: Small ensembles so the demo runs in minutes on two cores; the library defaults are larger.
DEMO_MODEL: dict[str, Any] = {
    "lgbm_params": {"n_estimators": 60, "num_leaves": 15},
    "xgb_params": {"n_estimators": 60, "max_depth": 4},
    "rf_params": {"n_estimators": 40, "max_depth": 10},
}
#: The challenger leans on the boosters and drops the forest: a difference that changes its picks.
CHALLENGER_WEIGHTS = {"lightgbm": 0.6, "xgboost": 0.4, "random_forest": 0.0}
TRAIN_DAYS = 90


@dataclass(slots=True)
class DemoResult:
    """Where the demo wrote things and what the controller decided."""

    workdir: Path
    report: Path
    good_run: list[Any] = field(default_factory=list)
    degraded_run: list[Any] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.append(json.loads(self.rfile.read(length) or b"{}"))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _start_receiver() -> tuple[ThreadingHTTPServer, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []
    handler = type("DemoReceiver", (_Receiver,), {"received": received})
    try:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    except OSError as exc:  # pragma: no cover - no free port on loopback
        raise StorageError(f"The demo could not open a webhook receiver on 127.0.0.1: {exc}.") from exc
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


class _RandomScores:
    """A deliberately broken challenger: scores that ignore the race."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def predict_proba(self, X: Any) -> np.ndarray:
        p = self._rng.uniform(0.05, 0.3, size=len(X))
        return np.column_stack([1.0 - p, p])


def _prepare(workdir: Path) -> None:
    try:
        for sub in ("data", "models", "config", "backtest", "report"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        probe = workdir / ".write-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise StorageError(
            f"The demo work directory {str(workdir)!r} is not writable ({exc.strerror or exc}); "
            "pass --workdir with a writable directory."
        ) from exc
    if (workdir / "data" / "monitor.db").exists() or any((workdir / "models").iterdir()):
        raise ConfigError(
            f"The work directory {str(workdir)!r} already holds a demo run; pass a new --workdir "
            "(the demo never overwrites what is stored)."
        )


def run_demo(
    workdir: str | Path = "stagewise-demo", *, days: int = 21, seed: int = 0, say: Say = print
) -> DemoResult:
    """Run the lifecycle in ``workdir``; ``days`` live days are replayed for each challenger."""
    from stagewise.backtest import WalkForwardBacktest
    from stagewise.data import simulate_races
    from stagewise.lifecycle.index import write_index
    from stagewise.lifecycle.replay import replay_days
    from stagewise.models.registry import ModelRegistry
    from stagewise.models.training import train_races
    from stagewise.monitor import PerformanceMonitor
    from stagewise.monitor.notify import WebhookNotifier
    from stagewise.rollout import GradualRollout

    if isinstance(days, bool) or not isinstance(days, int) or not 7 <= days <= 120:
        raise ConfigError(f"The 'days' option must be an int in [7, 120]. Got {days!r}.")
    started = time.perf_counter()
    root = Path(workdir)
    _prepare(root)

    first = pd.Timestamp("2025-01-01")
    live_start = first + pd.Timedelta(days=TRAIN_DAYS)
    last = live_start + pd.Timedelta(days=2 * days - 1)
    say(
        f"1/6 Simulating races {first.date()} → {last.date()} (seed {seed}): "
        f"{TRAIN_DAYS} days to learn from, "
        f"then {days} live days for a good challenger and {days} for a broken one."
    )
    races = simulate_races(first, last, seed=seed)
    races.to_parquet(root / "data" / "races.parquet")
    history = races.loc[races["race_date"] < live_start]
    live = races.loc[races["race_date"] >= live_start]
    live_days = sorted(live["race_date"].unique())
    good_days = live.loc[live["race_date"].isin(live_days[:days])]
    bad_days = live.loc[live["race_date"].isin(live_days[days:])]

    say(
        "2/6 Training a champion (the seed's 0.4/0.4/0.2 vote) and a challenger (boosters only) and "
        "scoring both on held-out days beside lane order and the oracle."
    )
    candidates = {"champion": DEMO_MODEL, "challenger": {**DEMO_MODEL, "weights": CHALLENGER_WEIGHTS}}
    reports = {}
    for name, params in candidates.items():
        report = train_races(history, days=TRAIN_DAYS, model_params=params, random_state=seed)
        reports[name] = report
        scores = {s.name: s for s in report.scores}
        lane = scores["lane order 1-2-3"].value
        say(
            f"    {name}: win hit {scores['Ensemble'].value:.1%} (lane order {lane:.1%}, "
            f"oracle {scores['oracle'].value:.1%})"
        )

    say("    Walk-forward backtests of both (14-day training windows, 7-day steps, leak-free by design).")
    for name, params in candidates.items():
        backtest = WalkForwardBacktest(domain="races", data=history, model_params=params, seed=seed)
        end = history["race_date"].max()
        backtest.run_walkforward(
            end - pd.Timedelta(days=27), end, 14, 7, 7, output_dir=root / "backtest" / name
        )

    say(
        "3/6 Registering both without pickle; the champion goes to production, the challenger gets its alias."
    )
    registry = ModelRegistry(root / "models")
    versions = {
        name: registry.save(report.model, metrics=report.performance_metrics(), notes=f"demo {name}")
        for name, report in reports.items()
    }
    registry.promote(versions["champion"])
    registry.set_alias("challenger", versions["challenger"])

    server, received = _start_receiver()
    notifier = WebhookNotifier(f"http://127.0.0.1:{server.server_address[1]}/hook")
    now = [datetime.combine(live_start.date(), datetime.min.time())]

    def clock(moment: datetime) -> None:
        now[0] = moment

    rollout = GradualRollout(root / "config" / "rollout_config.json", now=lambda: now[0], actor="demo")
    monitor = PerformanceMonitor(
        f"sqlite:///{root / 'data' / 'monitor.db'}", notifiers=[], clock=lambda: now[0]
    )
    result = DemoResult(workdir=root, report=root / "report" / "index.html", notifications=received)
    try:
        say(
            f"4/6 Rolling the challenger out at 10 % and replaying {days} live days: each race routed "
            "by its bucket, logged before the start, settled after it; the controller decides each evening."
        )
        rollout.add_feature("challenger_model", "10%", reason="backtest passed", actor="demo")
        result.good_run = replay_days(
            good_days,
            rollout=rollout,
            monitor=monitor,
            feature="challenger_model",
            champion=(versions["champion"], reports["champion"].model),
            challenger=(versions["challenger"], reports["challenger"].model),
            notifiers=[notifier],
            clock=clock,
            on_day=lambda d: _say_day(say, d),
        )

        say(
            f"5/6 Now a broken challenger (random scores) at 10 % for {days} days: the controller must roll "
            "it back and notify the webhook."
        )
        rollout.add_feature("broken_model", "10%", reason="demo: a deliberately degraded model", actor="demo")
        result.degraded_run = replay_days(
            bad_days,
            rollout=rollout,
            monitor=monitor,
            feature="broken_model",
            champion=(versions["champion"], reports["champion"].model),
            challenger=("broken-random-scores", _RandomScores(seed)),
            notifiers=[notifier],
            clock=clock,
            on_day=lambda d: _say_day(say, d),
        )
        time.sleep(0.2)  # let the receiver finish the last request
    finally:
        server.shutdown()
        server.server_close()

    say("6/6 Writing the reports.")
    n_days = int((last - live_start).days) + 1
    monitor_paths = monitor.generate_report(n_days, root / "report" / "monitor.txt", end_date=last.date())
    write_index(result, rollout=rollout, monitor_report=monitor_paths, versions=versions)
    result.seconds = time.perf_counter() - started
    return result


def _say_day(say: Say, day: Any) -> None:
    change = f" → {day.stage_after}" if day.stage_after != day.stage_before else ""
    hit = "—" if math.isnan(day.hit_rate_1st) else f"{day.hit_rate_1st:.1%}"
    say(
        f"    {day.day} {day.stage_before:>8}{change:<12} {day.races:3d} races "
        f"({day.challenger_races:3d} challenger) win {hit:>6}  {day.action}"
    )
