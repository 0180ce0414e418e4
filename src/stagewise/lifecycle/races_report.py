"""The races scenario's parts of the demo's output: its day lines and its tables on the index page."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stagewise.lifecycle.html import links, percent, table
from stagewise.lifecycle.replay import DayOutcome
from stagewise.lifecycle.report import day_marks, decision_classes

__all__ = ["backtests_table", "day_line", "day_table", "models_table"]


def _rate(value: float) -> str:
    return "   —  " if math.isnan(value) else f"{value:6.1%}"


def day_line(day: DayOutcome) -> str:
    """One line per replayed day: stage, races, hit rates, the controller's action."""
    change, why, alerts = day_marks(day)
    return (
        f"{day.day} {day.stage_before:>8} {change:<11} {day.races:3d} races ({day.challenger_races:3d} "
        f"challenger)  win: challenger {_rate(day.challenger_hit_rate_1st)} vs control "
        f"{_rate(day.control_hit_rate_1st)}  {day.action}{why}{alerts}"
    )


def day_table(outcomes: Sequence[DayOutcome]) -> str:
    """The per-day table of one replayed rollout."""
    header = [
        "day",
        "stage",
        "races",
        "challenger races",
        "win hit (all)",
        "challenger win hit*",
        "control win hit*",
        "alerts",
        "controller",
        "stage after",
        "why",
    ]
    rows = [
        [
            d.day,
            d.stage_before,
            d.races,
            d.challenger_races,
            percent(d.hit_rate_1st),
            percent(d.challenger_hit_rate_1st),
            percent(d.control_hit_rate_1st),
            ", ".join(d.alerts) or "—",
            d.action,
            d.stage_after,
            "; ".join(d.reasons),
        ]
        for d in outcomes
    ]
    classes = decision_classes(outcomes)
    return table(header, rows, classes) + "<p><small>* cumulative since the rollout began.</small></p>"


def backtests_table(backtests: Mapping[str, Mapping[str, Any]], base: Path) -> str:
    """Pooled walk-forward figures of each candidate with links to its reports."""
    rows = []
    for name, info in backtests.items():
        s = info["summary"]
        rows.append(
            [
                name,
                s["total_steps"],
                s["total_races"],
                percent(s["overall_hit_rate_1st"]),
                percent(s["overall_hit_rate_top3"]),
                f"{s['overall_score_accuracy']:.3f}",
                links(info["outputs"], base),
            ]
        )
    return table(["model", "steps", "races", "win hit", "trifecta hit", "score accuracy", "reports"], rows)


def models_table(models: Mapping[str, Mapping[str, Any]]) -> str:
    """Role, version and held-out win hit rate of each registered model beside its baselines."""
    return table(
        ["role", "version", "held-out win hit (95 % interval)", "lane order 1-2-3", "oracle", "notes"],
        [
            [
                role,
                info["version"],
                "not scored"
                if info["win"] is None
                else f"{percent(info['win'])} ({percent(info['low'])}–{percent(info['high'])})",
                percent(info.get("lane")),
                percent(info.get("oracle")),
                info.get("notes", ""),
            ]
            for role, info in models.items()
        ],
    )
