"""The demo's two longer steps: walk-forward backtests of the candidates, and a replayed rollout.

Both report through a :class:`~stagewise.lifecycle.progress.DemoProgress` (a bar plus a line per
result), so :mod:`stagewise.lifecycle.demo` reads as the story it tells.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from stagewise.lifecycle.progress import DemoProgress
from stagewise.lifecycle.replay import DayOutcome, replay_days

if TYPE_CHECKING:
    from stagewise.models import ModelRegistry

__all__ = [
    "BACKTEST_WINDOW",
    "FEATURE_SAMPLE_PER_DAY",
    "backtest_both",
    "day_line",
    "hand_over_challenger",
    "register_both",
    "replay_feature",
]

#: (days before the last history day where testing starts, train_days, test_days, step_days):
#: four 7-day test windows, each after its own 14 training days.
BACKTEST_WINDOW = (27, 14, 7, 7)
#: Feature values logged per feature and day for drift (a sample, as the ledger stores in production).
FEATURE_SAMPLE_PER_DAY = 300


def register_both(
    registry: ModelRegistry, reports: Mapping[str, Any], say: DemoProgress, steps: int, note_suffix: str = ""
) -> dict[str, str]:
    """Step 3 of either demo: save both models pickle-free, promote the champion, alias the challenger."""
    say.step(
        3,
        steps,
        "Register both models",
        "Saved as LightGBM text, XGBoost UBJSON and skops files under a SHA-256 manifest (no pickle); "
        "the champion is promoted to production, the challenger gets the 'challenger' alias.",
    )
    versions = {
        name: registry.save(
            report.flavour or report.model,  # races: the win ensemble and its place model, one version
            feature_set=None if report.feature_set is None else report.feature_set.to_json(),
            metrics=report.performance_metrics(),
            data_window=report.train_window,
            notes=f"demo {name}{note_suffix}",
        )
        for name, report in reports.items()
    }
    registry.promote(versions["champion"])
    registry.set_alias("challenger", versions["challenger"])
    say.note(
        f"production = {versions['champion']}, challenger = {versions['challenger']} (files verified on load)"
    )
    return versions


def backtest_both(
    history: pd.DataFrame,
    candidates: Mapping[str, Mapping[str, Any]],
    out_dir: Path,
    seed: int,
    say: DemoProgress,
) -> dict[str, dict[str, Any]]:
    """Walk-forward backtest each candidate's ensemble on ``history``; return summary and outputs by name."""
    from stagewise.backtest import WalkForwardBacktest

    back, train_days, test_days, step_days = BACKTEST_WINDOW
    end = history["race_date"].max()
    start = end - pd.Timedelta(days=back)
    out: dict[str, dict[str, Any]] = {}
    for name, params in candidates.items():
        steps = math.ceil((back + 1) / step_days)
        say.start(f"walk-forward backtest of the {name}", steps)
        tick = _Ticker(say)

        backtest = WalkForwardBacktest(domain="races", data=history, model_params=dict(params), seed=seed)
        result = backtest.run_walkforward(
            start, end, train_days, test_days, step_days, output_dir=out_dir / name, progress=tick
        )
        say.finish()
        summary = result["summary"]
        say.note(
            f"{name}: {summary['total_steps']} steps, {summary['total_races']:,} test races, "
            f"win hit {summary['overall_hit_rate_1st']:.1%}, "
            f"trifecta {summary['overall_hit_rate_top3']:.1%}, "
            f"score accuracy {summary['overall_score_accuracy']:.3f} → {out_dir / name}"
        )
        out[name] = {"summary": summary, "outputs": {k: str(v) for k, v in result["outputs"].items()}}
    return out


class _Ticker:
    """Turns the backtest's ``progress(done, total)`` into ``advance`` calls."""

    def __init__(self, say: DemoProgress) -> None:
        self.say, self.done = say, 0

    def __call__(self, finished: int, _total: int) -> None:
        self.say.advance(finished - self.done)
        self.done = finished


def _pct(value: float) -> str:
    return "   —  " if math.isnan(value) else f"{value:6.1%}"


def day_line(day: DayOutcome) -> str:
    """One line per replayed day: stage, races, hit rates, the controller's action."""
    change = f"→ {day.stage_after}" if day.stage_after != day.stage_before else ""
    alerts = f"  alerts: {', '.join(day.alerts)}" if day.alerts else ""
    why = f"  ({day.reasons[0]})" if day.action in ("promote", "rollback") and day.reasons else ""
    return (
        f"{day.day} {day.stage_before:>8} {change:<11} {day.races:3d} races ({day.challenger_races:3d} "
        f"challenger)  win: challenger {_pct(day.challenger_hit_rate_1st)} vs control "
        f"{_pct(day.control_hit_rate_1st)}  {day.action}{why}{alerts}"
    )


def replay_feature(
    races: pd.DataFrame,
    rollout: Any,
    monitor: Any,
    feature: str,
    registry: Any,
    notifier: Any,
    now: list[datetime],
    say: DemoProgress,
    *,
    days_after_rollback: int | None,
    health_window_days: int,
    feature_sample_per_day: int = 0,
) -> list[DayOutcome]:
    """Replay ``races`` day by day with the registry's production model and its ``challenger``.

    Both models are loaded back from the registry (each file checked against its SHA-256) so
    the replay serves exactly what was registered.
    """
    champion = (registry.resolve("production"), registry.load("production"))
    challenger = (registry.resolve("challenger"), registry.load("challenger"))
    n_days = int(races["race_date"].nunique())
    say.start(f"replaying {feature}", n_days)

    def clock(moment: datetime) -> None:
        now[0] = moment

    def on_day(day: DayOutcome) -> None:
        say.advance()
        say.note(day_line(day))

    outcomes = replay_days(
        races,
        rollout=rollout,
        monitor=monitor,
        feature=feature,
        champion=champion,
        challenger=challenger,
        clock=clock,
        notifiers=[notifier],
        on_day=on_day,
        days_after_rollback=days_after_rollback,
        health_window_days=health_window_days,
        feature_sample_per_day=feature_sample_per_day,
        cohort_alerts=True,
    )
    say.finish()
    return outcomes


def hand_over_challenger(
    registry: Any, rollout: Any, feature: str, version: str, final_stage: str, say: DemoProgress, unit: str
) -> None:
    """Free the ``challenger`` slot for the next model, leaving a deployment that serves as it stands.

    At 100 % the challenger won: :func:`~stagewise.rollout.promotion.finish_promotion` completes the
    rollout, promotes it and drops its alias. Short of 100 % its rollout is stopped (disabled,
    audited), so no race is routed to whatever model takes the alias next.
    """
    from stagewise.rollout.promotion import finish_promotion

    if final_stage == "100%":
        finish_promotion(
            registry, rollout, feature, ref=version, actor="demo",
            reason="demo: the controller rolled the challenger out to 100 %",
        )  # fmt: skip
        say.note(
            f"The challenger serves every {unit}: {version} becomes production and the rollout of "
            f"{feature} is completed (the old champion stays one `stagewise models rollback` away)."
        )
        return
    rollout.update_rollout_stage(
        feature, "disabled", actor="demo",
        reason=f"demo: stopped at {final_stage}; the challenger slot goes to the next model",
    )  # fmt: skip
    say.note(
        f"The challenger ends the replay at {final_stage}: the controller did not see enough healthy "
        f"{unit}s to go further in these days (it says why on each line above). Its rollout is stopped, "
        "so the next challenger is never served under its name."
    )
