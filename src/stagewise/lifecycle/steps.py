"""The story's steps that need no domain knowledge beyond a scenario: backtest, register, hand over.

Each reports through a :class:`~stagewise.lifecycle.progress.DemoProgress` (a bar plus a line per
result), so :mod:`stagewise.lifecycle.story` reads as the story it tells.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from stagewise.lifecycle.progress import DemoProgress

if TYPE_CHECKING:
    from stagewise.lifecycle.scenario import Scenario
    from stagewise.models import ModelRegistry
    from stagewise.models.ensemble import EnsembleParams
    from stagewise.models.training import TrainingReport
    from stagewise.rollout import GradualRollout

__all__ = ["backtest_both", "hand_over_challenger", "register_both"]


def register_both(
    registry: ModelRegistry,
    reports: Mapping[str, TrainingReport],
    say: DemoProgress,
    steps: int,
    note_suffix: str = "",
) -> dict[str, str]:
    """Step 3 of the story: save both models pickle-free, promote the champion, alias the challenger."""
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
    candidates: Mapping[str, EnsembleParams],
    out_dir: Path,
    seed: int,
    say: DemoProgress,
    scenario: Scenario[Any],
) -> dict[str, dict[str, Any]]:
    """Walk-forward backtest each candidate's ensemble on ``history``; return summary and outputs by name."""
    from stagewise.backtest import WalkForwardBacktest

    plan = scenario.backtest_plan(history)
    out: dict[str, dict[str, Any]] = {}
    for name, params in candidates.items():
        say.start(f"walk-forward backtest of the {name}", plan.steps)
        backtest = WalkForwardBacktest(
            domain=scenario.domain, data=history, model_params=dict(params), seed=seed
        )
        result = backtest.run_walkforward(
            plan.start, plan.end, plan.train_days, plan.test_days, plan.step_days,
            output_dir=out_dir / name, progress=_Ticker(say),
        )  # fmt: skip
        say.finish()
        note, out[name] = scenario.backtest_entry(name, result, out_dir)
        say.note(note)
    return out


class _Ticker:
    """Turns the backtest's ``progress(done, total)`` into ``advance`` calls."""

    def __init__(self, say: DemoProgress) -> None:
        self.say, self.done = say, 0

    def __call__(self, finished: int, _total: int) -> None:
        self.say.advance(finished - self.done)
        self.done = finished


def hand_over_challenger(
    registry: ModelRegistry,
    rollout: GradualRollout,
    feature: str,
    version: str,
    final_stage: str,
    say: DemoProgress,
    unit: str,
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
