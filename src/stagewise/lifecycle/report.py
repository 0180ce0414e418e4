"""The demo's one HTML page: models, backtests, monitor trend, rollout history, notifications, audit log.

Everything on the page is read back from what the demo stored (the backtest JSON, the rollout
store and its hash-chained audit log, the receiver's deliveries), so the page shows what is on
disk, not what the demo meant to write.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stagewise._atomic import write_file_atomic
from stagewise.lifecycle.html import escape as _e
from stagewise.lifecycle.html import link as _link
from stagewise.lifecycle.html import table as _table

if TYPE_CHECKING:
    from stagewise.lifecycle.scenario import DayRecord
    from stagewise.lifecycle.story import DemoResult
    from stagewise.rollout.audit import AuditReport

__all__ = [
    "STAGE_PERCENT",
    "DomainSections",
    "day_marks",
    "decision_classes",
    "write_report",
]

STAGE_PERCENT = {"disabled": 0.0, "10%": 10.0, "50%": 50.0, "100%": 100.0}
#: Chart rows: the seed's stages evenly spaced (a custom stage sits between its neighbours).
_LEVELS = {"disabled": 0.0, "10%": 1.0, "50%": 2.0, "100%": 3.0}


def _level(stage: str) -> float:
    if stage in _LEVELS:
        return _LEVELS[stage]
    try:
        share = float(stage.rstrip("%"))
    except ValueError:
        return 0.0
    marks = sorted(STAGE_PERCENT.items(), key=lambda kv: kv[1])
    for (lo_name, lo), (hi_name, hi) in itertools.pairwise(marks):
        if lo <= share <= hi:
            return _LEVELS[lo_name] + (share - lo) / (hi - lo) * (_LEVELS[hi_name] - _LEVELS[lo_name])
    return 0.0


_CSS = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#f3f3f3} .ok{color:#176b2c;font-weight:bold} .bad{color:#b00020;font-weight:bold}
code,pre{font-size:12px} pre{background:#f7f7f7;padding:.6em;overflow:auto;max-height:24em}
.promote{background:#e7f6ea} .rollback{background:#fde8ea}"""


def day_marks(day: DayRecord) -> tuple[str, str, str]:
    """The stage change, the first reason of a promotion or rollback, and the alerts, for a day line."""
    change = f"→ {day.stage_after}" if day.stage_after != day.stage_before else ""
    why = f"  ({day.reasons[0]})" if day.action in ("promote", "rollback") and day.reasons else ""
    return change, why, f"  alerts: {', '.join(day.alerts)}" if day.alerts else ""


def decision_classes(outcomes: Sequence[DayRecord]) -> list[str]:
    """Row classes of a day table: promotions and rollbacks stand out."""
    return [d.action if d.action in ("promote", "rollback") else "" for d in outcomes]


def _stage_chart(outcomes: Sequence[DayRecord], title: str) -> str:
    """An inline SVG step chart of the stage at the end of each replayed day."""
    if not outcomes:
        return ""
    width, height, left, top = 720, 150, 60, 12
    plot_w, plot_h = width - left - 20, height - top - 30
    n = len(outcomes)

    def x(i: float) -> float:
        return left + plot_w * i / n

    def y(stage: str) -> float:
        return top + plot_h * (1 - _level(stage) / 3)

    points: list[tuple[float, float]] = [(x(0), y(outcomes[0].stage_before))]
    for i, day in enumerate(outcomes):
        points += [(x(i + 1), points[-1][1]), (x(i + 1), y(day.stage_after))]
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    grid = "".join(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{y(s):.1f}" y2="{y(s):.1f}" stroke="#ddd"/>'
        f'<text x="{left - 6}" y="{y(s) + 4:.1f}" font-size="11" text-anchor="end">{_e(s)}</text>'
        for s in _LEVELS
    )
    marks = "".join(
        f'<circle cx="{x(i + 1):.1f}" cy="{y(d.stage_after):.1f}" r="4" '
        f'fill="{"#176b2c" if d.action == "promote" else "#b00020"}">'
        f"<title>{_e(d.day)}: {_e(d.action)}</title></circle>"
        for i, d in enumerate(outcomes)
        if d.action in ("promote", "rollback")
    )
    labels = (
        f'<text x="{left}" y="{height - 6}" font-size="11">{_e(outcomes[0].day)}</text>'
        f'<text x="{left + plot_w}" y="{height - 6}" font-size="11" text-anchor="end">'
        f"{_e(outcomes[-1].day)}</text>"
    )
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="{_e(title)}">{grid}'
        f'<polyline points="{path}" fill="none" stroke="#1f5fbf" stroke-width="2"/>{marks}{labels}</svg>'
    )


@dataclass(frozen=True, slots=True)
class DomainSections:
    """The parts of the page only a scenario knows how to draw: its models, backtests and day tables."""

    models: str
    backtests: str
    good_days: str
    degraded_days: str


def _audit_section(audit: Sequence[Mapping[str, Any]], audit_report: AuditReport) -> list[str]:
    badge = (
        f'<span class="ok">chain verified</span> ({audit_report.entries} entries, head '
        f"<code>{_e(audit_report.head_hash[:16])}…</code>)"
        if audit_report.ok
        else '<span class="bad">BROKEN</span>: ' + _e("; ".join(audit_report.problems))
    )
    rows = [
        [
            e.get("seq"),
            e.get("at"),
            e.get("actor"),
            e.get("feature"),
            e.get("action"),
            e.get("old_stage"),
            e.get("new_stage"),
            e.get("reason"),
            str(e.get("prev_hash", ""))[:10],
            str(e.get("hash", ""))[:10],
        ]
        for e in audit
    ]
    header = ["seq", "at", "actor", "feature", "action", "old", "new", "reason", "prev_hash", "hash"]
    return [f"<h2>Audit log: {badge}</h2>", _table(header, rows)]


def _registry_table(events: Sequence[Mapping[str, Any]]) -> str:
    return _table(
        ["at", "action", "alias", "version", "replaced"],
        [
            [e.get("at"), e.get("action"), e.get("alias", ""), e.get("version") or "—", e.get("from") or "—"]
            for e in events
        ],
    )


def _head(result: DemoResult, base: Path) -> list[str]:
    return [
        f"<h1>stagewise demo — {_e(result.domain)}</h1>",
        f"<p>Seed {result.seed}, {result.days} live days per challenger, finished in {result.seconds:.0f} s. "
        f"Work directory <code>{_e(result.workdir)}</code>; machine-readable summary: "
        f"{_link(result.summary_path, base, 'demo_summary.json')}.</p>",
    ]


def write_report(
    path: Path,
    *,
    result: DemoResult,
    sections: DomainSections,
    audit: Sequence[Mapping[str, Any]],
    audit_report: AuditReport,
    monitor_report: Mapping[str, Path],
) -> Path:
    """Write the demo's index page to ``path`` (atomically) and return it."""
    base = path.parent
    monitor_links = " · ".join(
        _link(Path(p), base, f"monitor trend ({k})") for k, p in monitor_report.items()
    )
    notifications = json.dumps(result.notifications, ensure_ascii=False, indent=1, default=str)
    page = [
        *_head(result, base),
        "<h2>1–3. Models (registry <code>models/</code>, pickle-free)</h2>",
        sections.models,
        "<p>Registry events:</p>",
        _registry_table(result.registry_events),
        "<h2>2. Walk-forward backtests</h2>",
        sections.backtests,
        "<h2>4. Monitor</h2>",
        f"<p>Ledger <code>data/monitor.db</code>: {monitor_links}.</p>",
    ]
    for title, outcomes, day_table in (
        (f"4–5. Rollout of the challenger ({result.features['good']})", result.good_run, sections.good_days),
        (
            f"5. Rollout of the degraded challenger ({result.features['degraded']})",
            result.degraded_run,
            sections.degraded_days,
        ),
    ):
        page += [f"<h2>{_e(title)}</h2>", _stage_chart(outcomes, title), day_table]
    page += [
        f"<h2>5. Notifications received by the local webhook ({len(result.notifications)})</h2>",
        f"<pre>{_e(notifications[:30000])}</pre>",
        *_audit_section(audit, audit_report),
    ]
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>stagewise demo</title>'
        f"<style>{_CSS}</style></head><body>{''.join(page)}</body></html>"
    )
    write_file_atomic(path, document.encode("utf-8"))
    return path
