"""The monitor's reports: the seed's text report (English or the seed's Japanese labels) and an HTML page.

The HTML page is self-contained: plotly.js is inlined once (no CDN is fetched to view it), with one
figure of four panels: win and trifecta hit rates with their Wilson 95 % bands, score accuracy with a
normal 95 % band, and races per day, each beside its alert threshold.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from stagewise._output import write_text_output
from stagewise.monitor.alert_config import AlertRule
from stagewise.monitor.stats import wilson_bounds

__all__ = ["LABELS", "render_text", "write_reports"]

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Performance report",
        "period": "Period",
        "days": "days",
        "overall": "[Overall]",
        "daily": "[Daily]",
        "alerts": "[Alerts]",
        "races": "Races evaluated",
        "hit_1st": "Win hit rate",
        "hit_top3": "Trifecta hit rate",
        "hit_trio": "Trio hit rate",
        "score": "Score accuracy",
        "pending": "Pending (no result yet)",
        "void": "Void",
        "days_with": "Days with races",
        "none": "No races in this period.",
        "no_alerts": "No alerts.",
        "date": "date",
        "ci": "95% CI",
    },
    "ja": {
        "title": "パフォーマンスレポート",
        "period": "期間",
        "days": "日間",
        "overall": "【全体統計】",
        "daily": "【日次推移】",
        "alerts": "【アラート】",
        "races": "評価レース数",
        "hit_1st": "1着的中率",
        "hit_top3": "3連単的中率",
        "hit_trio": "3連複的中率",
        "score": "スコア精度",
        "pending": "結果待ち",
        "void": "不成立",
        "days_with": "レース開催日数",
        "none": "この期間のレースはありません。",
        "no_alerts": "アラートはありません。",
        "date": "日付",
        "ci": "95%信頼区間",
    },
}


def _labels(lang: str) -> dict[str, str]:
    if lang not in LABELS:
        from stagewise._exceptions import ConfigError

        raise ConfigError(f"The 'lang' parameter must be one of {sorted(LABELS)}. Got {lang!r}.")
    return LABELS[lang]


def _pct(x: float | None) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.2%}"


def _score(x: float | None) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.4f}"


def _overall(trend: Sequence[dict[str, Any]]) -> dict[str, Any]:
    n = sum(d["total_races"] for d in trend)
    k = sum(d["score_accuracy_races"] for d in trend)
    out: dict[str, Any] = {"total_races": n, "days": len(trend)}
    for name in ("1st", "top3", "trio"):
        hits = sum(d[f"hit_count_{name}"] for d in trend)
        out[f"hit_rate_{name}"] = hits / n if n else math.nan
        out[f"ci_{name}"] = wilson_bounds(hits, n)
    total_acc = sum(
        d["avg_score_accuracy"] * d["score_accuracy_races"] for d in trend if d["score_accuracy_races"]
    )
    out["avg_score_accuracy"] = total_acc / k if k else math.nan
    out["pending"] = sum(d["pending_races"] for d in trend)
    out["void"] = sum(d["void_races"] for d in trend)
    return out


def render_text(
    trend: Sequence[dict[str, Any]], alerts: pd.DataFrame, *, lang: str, start: date, end: date
) -> str:
    """The text report: overall statistics, the daily table and the period's alerts."""
    lab = _labels(lang)
    span = (end - start).days + 1
    lines = [
        f"{lab['title']}",
        "=" * 60,
        f"{lab['period']}: {start.isoformat()} - {end.isoformat()} ({span} {lab['days']})",
        "",
        lab["overall"],
    ]
    if not trend:
        lines.append(f"  {lab['none']}")
    else:
        o = _overall(trend)
        lines += [
            f"  {lab['days_with']}: {o['days']}",
            f"  {lab['races']}: {o['total_races']}",
        ]
        for key, name in (("hit_1st", "1st"), ("hit_top3", "top3"), ("hit_trio", "trio")):
            low, high = o[f"ci_{name}"]
            lines.append(
                f"  {lab[key]}: {_pct(o[f'hit_rate_{name}'])} ({lab['ci']} {_pct(low)} - {_pct(high)})"
            )
        lines += [
            f"  {lab['score']}: {_score(o['avg_score_accuracy'])}",
            f"  {lab['pending']}: {o['pending']}  {lab['void']}: {o['void']}",
            "",
            lab["daily"],
            f"  {lab['date']:<10}  {lab['races']:>8}  {lab['hit_1st']:>10}  "
            f"{lab['hit_top3']:>10}  {lab['score']:>8}",
        ]
        for d in trend:
            lines.append(
                f"  {d['date']:<10}  {d['total_races']:>8}  {_pct(d['hit_rate_1st']):>10}  "
                f"{_pct(d['hit_rate_top3']):>10}  {_score(d['avg_score_accuracy']):>8}"
            )
    lines += ["", lab["alerts"]]
    if alerts.empty:
        lines.append(f"  {lab['no_alerts']}")
    else:
        for row in alerts.itertuples(index=False):
            lines.append(
                f"  {row.date} [{row.alert_type}] {row.state}: {row.message} ({row.delivery_status})"
            )
    return "\n".join(lines) + "\n"


def _figure(trend: Sequence[dict[str, Any]], rules: Sequence[AlertRule], lab: dict[str, str]) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    frame = pd.DataFrame(trend)
    panels = [
        ("hit_rate_1st", lab["hit_1st"]),
        ("hit_rate_top3", lab["hit_top3"]),
        ("avg_score_accuracy", lab["score"]),
        ("total_races", lab["races"]),
    ]
    fig = make_subplots(
        rows=4, cols=1, shared_xaxes=True, subplot_titles=[t for _, t in panels], vertical_spacing=0.06
    )
    thresholds = {r.metric: r.threshold for r in rules}
    for i, (metric, title) in enumerate(panels, start=1):
        if frame.empty:
            continue
        x = frame["date"]
        if metric == "total_races":
            fig.add_trace(go.Bar(x=x, y=frame[metric], name=title, marker_color="#4C78A8"), row=i, col=1)
        else:
            low, high = frame[f"{metric}_ci_low"], frame[f"{metric}_ci_high"]
            fig.add_trace(
                go.Scatter(x=x, y=high, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"),
                row=i,
                col=1,
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=low,
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor="rgba(76,120,168,0.25)",
                    name=f"{title} {lab['ci']}",
                ),
                row=i,
                col=1,
            )
            fig.add_trace(
                go.Scatter(x=x, y=frame[metric], mode="lines+markers", name=title, line={"color": "#4C78A8"}),
                row=i,
                col=1,
            )
        if metric in thresholds:
            fig.add_hline(
                y=thresholds[metric],
                line_dash="dash",
                line_color="#E45756",
                row=i,
                col=1,
                annotation_text=f"threshold {thresholds[metric]:g}",
            )
    fig.update_layout(height=1100, title=lab["title"], showlegend=False, template="plotly_white")
    return fig


def write_reports(
    trend: Sequence[dict[str, Any]],
    alerts: pd.DataFrame,
    output_path: Path,
    *,
    lang: str,
    start: date,
    end: date,
    thresholds: Sequence[AlertRule],
) -> dict[str, Path]:
    """Write ``output_path`` (text) and the same name with ``.html``; return both paths."""
    lab = _labels(lang)
    text = render_text(trend, alerts, lang=lang, start=start, end=end)
    write_text_output(output_path, text)
    html_path = output_path.with_suffix(".html")
    if html_path == output_path:
        html_path = output_path.with_name(output_path.name + ".html")
    body = _figure(trend, thresholds, lab).to_html(include_plotlyjs=True, full_html=False)
    page = (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(lab['title'])}</title>"
        f"</head><body>\n<pre>{html.escape(text)}</pre>\n{body}\n</body></html>\n"
    )
    write_text_output(html_path, page)
    return {"text": output_path, "html": html_path}
