"""The demo's index page: one HTML file linking the backtests, the monitor trend and the rollout history."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["write_index"]


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _link(target: Path, base: Path, text: str) -> str:
    return f'<a href="{html.escape(os.path.relpath(target, base))}">{html.escape(text)}</a>'


def _day_rows(outcomes: list[Any]) -> list[list[Any]]:
    return [
        [
            d.day,
            d.stage_before,
            d.races,
            d.challenger_races,
            f"{d.hit_rate_1st:.1%}",
            d.action,
            d.stage_after,
            "; ".join(d.reasons),
        ]
        for d in outcomes
    ]


def write_index(result: Any, *, rollout: Any, monitor_report: Any, versions: dict[str, str]) -> Path:
    """Write ``result.report`` and return its path."""
    base = result.report.parent
    audit = rollout.verify_audit()
    entries = rollout.audit_log()
    day_header = ["day", "stage", "races", "challenger races", "win hit", "controller", "stage after", "why"]
    links = [
        _link(
            result.workdir / "backtest" / name / "walkforward_report.html",
            base,
            f"{name} walk-forward report",
        )
        for name in ("champion", "challenger")
    ]
    if isinstance(monitor_report, dict) and monitor_report.get("html"):
        links.append(_link(Path(monitor_report["html"]), base, "monitor trend report"))
    audit_rows = [
        [e.get(key) for key in ("seq", "at", "actor", "feature", "old_stage", "new_stage", "reason")]
        for e in entries
    ]
    badge = "verified" if audit.ok else "BROKEN: " + "; ".join(audit.problems)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>stagewise demo</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse;font-size:13px}} td,th{{border:1px solid #ccc;padding:3px 6px}}
</style></head><body>
<h1>stagewise demo</h1>
<p>Models: champion <code>{html.escape(versions["champion"])}</code>, challenger
<code>{html.escape(versions["challenger"])}</code> (registry: models/).</p>
<h2>Reports</h2><ul>{"".join(f"<li>{link}</li>" for link in links)}</ul>
<h2>Rollout of the challenger (controller decisions)</h2>{_table(day_header, _day_rows(result.good_run))}
<h2>Rollout of a broken challenger</h2>{_table(day_header, _day_rows(result.degraded_run))}
<h2>Notifications received by the local webhook</h2>
<pre>{html.escape(json.dumps(result.notifications, ensure_ascii=False, indent=1)[:20000])}</pre>
<h2>Audit log ({html.escape(badge)}, {audit.entries} entries)</h2>
{_table(["seq", "at", "actor", "feature", "old", "new", "reason"], audit_rows)}
</body></html>"""
    result.report.write_text(page, encoding="utf-8")
    return Path(result.report)
