"""The money sections of a walk-forward report: betting (races), calibration, trading (markets).

Each section is optional in the result dict; :func:`money_text` gives the text-report lines and
:func:`money_figures` the HTML charts (profit curves, reliability curves, equity curves).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["money_figures", "money_text"]


def _fmt(value: Any, pattern: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return pattern.format(value)


def _interval(ci: Any, pattern: str) -> str:
    if not ci or any(v is None or (isinstance(v, float) and math.isnan(v)) for v in ci):
        return ""
    return f" (95% CI {_fmt(ci[0], pattern)} – {_fmt(ci[1], pattern)})"


def _pct(value: Any) -> str:
    return _fmt(None if value is None else 100 * value, "{:+.2f}%")


def _pct_ci(ci: Any) -> str:
    return _interval([None if v is None else 100 * v for v in ci] if ci else ci, "{:+.2f}%")


def _betting_lines(section: dict[str, Any]) -> list[str]:
    rule = section["strategy"]
    lines = [
        "",
        f"[Betting: {section['bet_type']}, strategy {rule['name']}]",
        f"  odds: {section['odds']}; stake {rule['stake']}, margin {rule['margin']}, "
        f"Kelly {rule['kelly_fraction']} capped at {rule['kelly_cap']} of {rule['bankroll']}",
    ]
    for who, r in section["results"].items():
        lines.append(
            f"  {who:<10} bets {r['n_bets']:>7}  ROI {_pct(r['roi'])}{_pct_ci(r['roi_ci'])}"
            f"  profit {_fmt(r['total_profit'], '{:+.1f}')}"
            f"  max drawdown {_fmt(r['max_drawdown'], '{:.1f}')}{_interval(r['max_drawdown_ci'], '{:.1f}')}"
        )
    model = section["results"]["model"]
    low = (model.get("roi_ci") or [None])[0]
    if low is not None and low > 0:
        lines.append("  the model's ROI interval is above zero: an edge over the pool at these odds")
    else:
        lines.append("  no edge is claimed: the model's ROI interval does not exclude a loss")
    return lines


def _calibration_lines(section: dict[str, Any]) -> list[str]:
    lines = ["", f"[Calibration: {section['method']}, fitted on {section['holdout']}]"]
    for who in ("raw", "calibrated"):
        r = section[who]
        lines.append(
            f"  {who:<10} ECE {_fmt(r['ece'], '{:.4f}')}"
            f" (beyond chance{_interval(r['ece_excess_ci'], '{:+.4f}')})"
            f"  Brier {_fmt(r['brier'], '{:.4f}')} = reliability {_fmt(r['brier_reliability'], '{:.4f}')}"
            f" − resolution {_fmt(r['brier_resolution'], '{:.4f}')} + uncertainty "
            f"{_fmt(r['brier_uncertainty'], '{:.4f}')}  log-loss {_fmt(r['log_loss'], '{:.4f}')}"
        )
    change = section["log_loss_change"]
    value = _fmt(change["value"], "{:+.4f}")
    lines.append(f"  log-loss change (calibrated − raw): {value}{_interval(change['ci'], '{:+.4f}')}")
    return lines


def _trading_lines(section: dict[str, Any]) -> list[str]:
    c = section["costs"]
    bp = "{:+.2f} bp"

    def bps(value: Any) -> str:
        return _fmt(None if value is None else 1e4 * value, bp)

    ci = [None if v is None else 1e4 * v for v in section["net_mean_return_ci"]]
    return [
        "",
        f"[Trading: spread {c['spread_bps']} bp, commission {c['commission_bps']} bp, "
        f"slippage {c['slippage_bps']} bp]",
        f"  gross {bps(section['gross_mean_return'])} per bar, net {bps(section['net_mean_return'])}"
        f"{_interval(ci, bp)}, turnover {_fmt(section['turnover_per_bar'], '{:.3f}')} per bar",
        f"  Sharpe {_fmt(section['sharpe'], '{:.2f}')}{_interval(section['sharpe_ci'], '{:.2f}')}, "
        f"Sortino {_fmt(section['sortino'], '{:.2f}')}{_interval(section['sortino_ci'], '{:.2f}')}, "
        f"max drawdown {_pct(section['max_drawdown'])}, net total {_pct(section['net_total_return'])}",
        f"  {section['verdict']}",
    ]


def money_text(result: dict[str, Any]) -> list[str]:
    """Lines for the text report (empty when the result has no money section)."""
    lines: list[str] = []
    if result.get("calibration"):
        lines += _calibration_lines(result["calibration"])
    if result.get("trading"):
        lines += _trading_lines(result["trading"])
    if result.get("betting"):
        lines += _betting_lines(result["betting"])
    return lines


def money_figures(result: dict[str, Any]) -> list[Any]:
    """Plotly figures for the HTML report: the profit curve of every betting strategy."""
    import plotly.graph_objects as go

    figures = []
    if result.get("calibration"):
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot"}, name="perfect"))
        for who in ("raw", "calibrated"):
            curve = result["calibration"][who]["reliability_curve"]
            fig.add_trace(
                go.Scatter(
                    x=curve["mean_prediction"], y=curve["observed_rate"], mode="lines+markers", name=who
                )
            )
        fig.update_layout(
            title="Reliability curve (observed rate by predicted probability)",
            xaxis_title="mean predicted probability",
            yaxis_title="observed rate",
            height=380,
        )
        figures.append(fig)
    if result.get("trading"):
        curve = result["trading"]["equity_curve"]
        fig = go.Figure(go.Scatter(x=curve["days"], y=curve["equity"], mode="lines", name="net of costs"))
        fig.update_layout(title="Equity curve after costs (end of day)", yaxis_title="equity", height=360)
        figures.append(fig)
    if result.get("betting"):
        fig = go.Figure()
        for who, r in result["betting"]["results"].items():
            curve = r["profit_curve"]
            fig.add_trace(go.Scatter(x=curve["days"], y=curve["cumulative_profit"], mode="lines", name=who))
        fig.update_layout(
            title=f"Cumulative profit by day ({result['betting']['bet_type']} bets)",
            xaxis_title="day",
            yaxis_title="profit (stake units)",
            height=380,
        )
        figures.append(fig)
    return figures
