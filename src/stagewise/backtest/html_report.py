"""``walkforward_report.html``: a fold-timeline chart and per-step metrics with interval bands.

Self-contained: plotly's JavaScript is inlined once, so the file opens without a network.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from stagewise._domain import Domain

__all__ = ["render_html"]


def _timeline(result: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for kind, start_key, end_key, color in (
        ("train", "train_start", "train_end", "#7f9fbf"),
        ("test", "test_start", "test_end", "#e07b39"),
    ):
        starts = pd.to_datetime([s[start_key] for s in result["steps"]])
        ends = pd.to_datetime([s[end_key] for s in result["steps"]]) + pd.Timedelta(days=1)
        fig.add_trace(
            go.Bar(
                name=kind,
                y=[f"step {s['step']}" for s in result["steps"]],
                x=(ends - starts).total_seconds() * 1000,
                base=starts,
                orientation="h",
                marker_color=color,
            )
        )
    fig.update_layout(
        title="Fold timeline (training and test days per step)",
        barmode="overlay",
        height=300 + 18 * len(result["steps"]),
    )
    fig.update_xaxes(type="date")
    fig.update_yaxes(autorange="reversed")
    return fig


def _metric_chart(result: dict[str, Any], metric: str, ci_key: str | None) -> Any:
    import plotly.graph_objects as go

    steps = [s["step"] for s in result["steps"]]
    values = [s["metrics"].get(metric) for s in result["steps"]]
    fig = go.Figure()
    if ci_key is not None:
        lows = [(s["metrics"].get(ci_key) or [None, None])[0] for s in result["steps"]]
        highs = [(s["metrics"].get(ci_key) or [None, None])[1] for s in result["steps"]]
        fig.add_trace(go.Scatter(x=steps, y=highs, mode="lines", line={"width": 0}, showlegend=False))
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=lows,
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(31,119,180,0.2)",
                name="95% interval",
            )
        )
    fig.add_trace(go.Scatter(x=steps, y=values, mode="lines+markers", name="model"))
    for who, base in result["baselines"].items():
        value = base.get(metric)
        if value is not None:
            fig.add_hline(y=value, line_dash="dot", annotation_text=who)
    fig.update_layout(title=f"{metric} per step", xaxis_title="step", yaxis_title=metric, height=360)
    return fig


def render_html(result: dict[str, Any]) -> str:
    """The whole HTML page for one result."""
    charts: list[tuple[str, str | None]]
    if result["domain"] == Domain.RACES:
        charts = [("hit_rate_1st", "hit_rate_1st_ci"), ("hit_rate_top3", "hit_rate_top3_ci"),
                  ("avg_score_accuracy", "avg_score_accuracy_ci")]  # fmt: skip
    else:
        charts = [("accuracy", "accuracy_ci"), ("f1", None), ("signal_mean_return", "signal_mean_return_ci")]
    from stagewise.backtest.money_report import money_figures

    figures = [_timeline(result)] + [_metric_chart(result, m, c) for m, c in charts] + money_figures(result)
    parts = [
        fig.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False)
        for i, fig in enumerate(figures)
    ]
    findings = "".join(f"<li><b>{f['rule']}</b>: {f['reason']}</li>" for f in result["guard"]["findings"])
    summary = result["summary"]
    unit = "races" if result["domain"] == Domain.RACES else "bars"
    head = (
        f"<h1>Walk-forward backtest ({result['domain']})</h1><p>{summary['total_steps']} steps, "
        f"{summary[f'total_{unit}']} {unit} evaluated.</p>"
        f"<h2>Leakage guard</h2><ul>{findings or '<li>no implausible result found</li>'}</ul>"
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Walk-forward report</title></head><body>"
        + head
        + "".join(parts)
        + "</body></html>"
    )
