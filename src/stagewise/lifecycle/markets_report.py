"""The markets demo's parts of the index page, its day lines and the monitor's signal trend.

The trend is read back from the ledger (``PerformanceMonitor.get_market_trend`` per variant), so
the pages show what is stored, not what the demo meant to store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from stagewise._atomic import write_file_atomic
from stagewise.lifecycle.html import escape as _e
from stagewise.lifecycle.html import links, table
from stagewise.lifecycle.html import number as _num
from stagewise.lifecycle.html import percent as _pct
from stagewise.lifecycle.market_replay import MarketDayOutcome
from stagewise.lifecycle.report import day_marks, decision_classes
from stagewise.rollout.health import MARKETS_POLICY

__all__ = [
    "MARKET_HEALTH_NOTE",
    "backtests_table",
    "day_line",
    "day_table",
    "models_table",
    "write_monitor_trend",
]


def _rule(metric: str) -> Any:
    return next(r for r in MARKETS_POLICY.rules if r.metric == metric)


MARKET_HEALTH_NOTE = (
    f"CRITICAL when the Brier skill against the base rate < {_rule('brier_skill').critical:+.2f} or "
    f"direction accuracy is below {_rule('direction_accuracy').critical:.0%} beyond its 95 % interval, "
    f"WARNING when the skill < {_rule('brier_skill').warning:+.2f} or the accuracy's point value < "
    f"{_rule('direction_accuracy').critical:.0%}, no verdict under {MARKETS_POLICY.min_sample} settled "
    "signals"
)


def day_line(day: MarketDayOutcome) -> str:
    """One line per replayed day: stage, signals, cumulative accuracy and Brier, the controller's action."""
    change, why, alerts = day_marks(day)
    return (
        f"{day.day} {day.stage_before:>8} {change:<11} {day.signals:3d} bars ({day.challenger_signals:2d} "
        f"challenger)  challenger {_pct(day.challenger_accuracy):>6} right, Brier "
        f"{_num(day.challenger_brier)} vs control {_pct(day.control_accuracy):>6}, "
        f"{_num(day.control_brier)}  {day.health or '—'}  {day.action}{why}{alerts}"
    )


def day_table(outcomes: Sequence[MarketDayOutcome]) -> str:
    """The per-day table of one replayed rollout."""
    header = [
        "day",
        "stage",
        "bars",
        "challenger bars",
        "accuracy that day (settled by midnight)",
        "challenger accuracy*",
        "control accuracy*",
        "challenger Brier*",
        "control Brier*",
        "health",
        "alerts",
        "controller",
        "stage after",
        "why",
    ]
    rows = [
        [
            d.day,
            d.stage_before,
            d.signals,
            d.challenger_signals,
            _pct(d.accuracy),
            _pct(d.challenger_accuracy),
            _pct(d.control_accuracy),
            _num(d.challenger_brier),
            _num(d.control_brier),
            d.health or "—",
            ", ".join(d.alerts) or "—",
            d.action,
            d.stage_after,
            "; ".join(d.reasons),
        ]
        for d in outcomes
    ]
    classes = decision_classes(outcomes)
    note = (
        "<p><small>* cumulative since the rollout began (settled signals). Brier = mean (p − y)², "
        f"0.25 for a 50/50 forecast. Health policy: {_e(MARKET_HEALTH_NOTE)}.</small></p>"
    )
    return table(header, rows, classes) + note


def models_table(models: Mapping[str, Mapping[str, Any]]) -> str:
    """Role, version and held-out direction accuracy of each registered model."""
    rows = [
        [
            role,
            info["version"],
            "not scored"
            if info.get("accuracy") is None
            else f"{_pct(info['accuracy'])} ({_pct(info['low'])}–{_pct(info['high'])}) "
            f"on {info['n_test']:,} bars",
            _num(info.get("f1")),
            _pct(info.get("majority")),
            info.get("notes", ""),
        ]
        for role, info in models.items()
    ]
    return table(
        ["role", "version", "held-out accuracy (95 % interval)", "F1", "majority class", "notes"], rows
    )


def backtests_table(backtests: Mapping[str, Mapping[str, Any]], base: Path) -> str:
    """Pooled walk-forward figures of each candidate with links to its reports."""
    rows = []
    for name, info in backtests.items():
        s = info["summary"]
        rows.append(
            [
                name,
                s["total_steps"],
                s["total_bars"],
                _pct(s["overall_accuracy"]),
                _pct((info.get("majority") or {}).get("accuracy")),
                _num(s.get("overall_f1")),
                _num(s.get("overall_mcc"), "+.3f"),
                _num(s.get("overall_signal_mean_return"), "+.6f"),
                f"{_num(info.get('brier_score'), '.4f')} ({_num(info.get('brier_skill'), '+.3f')})",
                links(info["outputs"], base),
            ]
        )
    header = ["model", "steps", "bars", "accuracy", "majority class", "F1", "MCC", "mean return / bar"]
    note = (
        "<p><small>Brier = mean (p − y)² of the predicted probability of an up bar (0.25 for a 50/50 "
        "forecast); in brackets its skill against always forecasting the test bars' up-share (0 = no "
        "better, negative = worse).</small></p>"
    )
    return table([*header, "Brier (skill)", "reports"], rows) + note


def _trend_rows(monitor: Any, start: date, end: date) -> list[list[Any]]:
    days = (end - start).days + 1
    by_segment = {
        label: {row["date"]: row for row in monitor.get_market_trend(days, end_date=end, **segment)}
        for label, segment in (
            ("all", {}),
            ("challenger", {"variant": "on"}),
            ("control", {"variant": "control"}),
        )
    }
    rows = []
    for day in sorted(by_segment["all"]):
        cells: list[Any] = [day]
        for label in ("all", "challenger", "control"):
            row = by_segment[label].get(day)
            cells += (
                ["—", "—"]
                if row is None
                else [row["total_signals"], _pct(row["accuracy"]) if row["total_signals"] else "—"]
            )
        cells.append(by_segment["all"][day]["pending_signals"])
        rows.append(cells)
    return rows


def write_monitor_trend(monitor: Any, start: date, end: date, out_dir: Path) -> dict[str, Path]:
    """The ledger's daily signal stats from ``start`` to ``end`` as ``monitor.txt`` and ``monitor.html``."""
    header = [
        "date",
        "signals",
        "accuracy",
        "challenger signals",
        "challenger accuracy",
        "control signals",
        "control accuracy",
        "pending",
    ]
    rows = _trend_rows(monitor, start, end)
    alerts = monitor.alert_history(start, end)
    text = [f"Market signal report {start} – {end} (ledger data/monitor.db)", "", "  ".join(header)]
    text += ["  ".join(str(c) for c in row) for row in rows]
    text += ["", f"Alerts recorded: {len(alerts)}"]
    if len(alerts):
        counts = alerts["alert_type"].value_counts()
        text += [f"  {name}: {int(n)}" for name, n in counts.items()]
    paths = {"text": out_dir / "monitor.txt", "html": out_dir / "monitor.html"}
    _write(paths["text"], "\n".join(text) + "\n")
    alert_rows = (
        []
        if not len(alerts)
        else [
            [r.get("date"), r.get("alert_type"), r.get("state"), r.get("message")]
            for r in alerts.to_dict("records")
        ]
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Market signal report</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}</style>"
        f"</head><body><h1>Market signals {_e(start)} – {_e(end)}</h1>"
        "<p>Settled signals and their direction accuracy per day, read back from the ledger; "
        "the challenger is the ledger variant <code>on</code>.</p>"
        + table(header, rows)
        + f"<h2>Alerts ({len(alert_rows)})</h2>"
        + table(["date", "alert", "state", "message"], alert_rows)
        + "</body></html>"
    )
    _write(paths["html"], page)
    return paths


def _write(path: Path, text: str) -> None:
    write_file_atomic(path, text.encode("utf-8"))
