"""Plotly figures of the dashboard (pure: DataFrames in, figures out)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from stagewise.dashboard.data import TREND_METRICS

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["backtest_figure", "trend_figure"]

_CI = {metric: (f"{metric}_ci_low", f"{metric}_ci_high") for metric in TREND_METRICS}


def _date_axis(dates: pd.Series) -> dict[str, object]:
    """Whole days on the x axis (at most about ten ticks), never hours."""
    span = 1 if len(dates) < 2 else max(1, (dates.max() - dates.min()).days)
    return {"tickformat": "%Y-%m-%d", "dtick": 86_400_000 * math.ceil(span / 10)}


def trend_figure(trend: pd.DataFrame, metric: str, threshold: float | None) -> go.Figure:
    """The daily ``metric`` with its 95 % interval as a band and the alert threshold as a dashed line."""
    import plotly.graph_objects as go

    low, high = _CI[metric]
    label = TREND_METRICS[metric]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=trend["date"], y=trend[high], mode="lines", line={"width": 0},
                             showlegend=False, hoverinfo="skip"))  # fmt: skip
    band = "rgba(31,119,180,0.2)"
    fig.add_trace(go.Scatter(x=trend["date"], y=trend[low], mode="lines", line={"width": 0},
                             fill="tonexty", fillcolor=band, name="95% interval"))  # fmt: skip
    fig.add_trace(go.Scatter(x=trend["date"], y=trend[metric], mode="lines+markers", name=label,
                             line={"color": "rgb(31,119,180)"}))  # fmt: skip
    if threshold is not None:
        fig.add_hline(y=threshold, line_dash="dash", line_color="firebrick",
                      annotation_text=f"alert threshold {threshold:g}")  # fmt: skip
    is_rate = metric.startswith("hit_rate")
    fig.update_xaxes(**_date_axis(trend["date"]))
    fig.update_layout(title=label, height=300, margin={"l": 40, "r": 20, "t": 40, "b": 30},
                      yaxis={"tickformat": ".0%" if is_rate else ".2f"})  # fmt: skip
    return fig


def backtest_figure(steps: pd.DataFrame, metrics: Mapping[str, str]) -> go.Figure:
    """Each step's headline metrics (``metrics``: column → label) against the test-window start."""
    import plotly.graph_objects as go

    fig = go.Figure()
    x = pd.to_datetime(steps["test_start"]) if "test_start" in steps else steps["step"]
    for column, label in metrics.items():
        if column in steps:
            fig.add_trace(go.Scatter(x=x, y=steps[column], mode="lines+markers", name=label))
    if "test_start" in steps:
        fig.update_xaxes(**_date_axis(x), title="test window start")
    fig.update_layout(title="Per step", height=300, margin={"l": 40, "r": 20, "t": 40, "b": 30})
    return fig
