"""The search's outputs: ``search_results.json`` (versioned) and ``search_report.html`` (plotly).

The HTML page is self-contained (plotly's JavaScript inlined once): the optimisation history
of every step, the parameter importances, each outer step's chosen parameters, and the
nested estimate with its interval beside the naive best-of-N estimate and chance.
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any

from stagewise._atomic import write_file_atomic
from stagewise._exceptions import NotFoundError, UnsupportedFormatError

__all__ = ["FORMAT_VERSION", "RESULTS_FILE", "read_results", "render_html", "write_outputs"]

#: Version of ``search_results.json``; bump it when a key changes meaning, and keep a reader for the old one.
FORMAT_VERSION = 1
RESULTS_FILE = "search_results.json"
REPORT_FILE = "search_report.html"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_outputs(result: dict[str, Any], output_dir: Path, write_html: bool = True) -> dict[str, str]:
    """Write the JSON (and HTML) into ``output_dir``; return their paths."""
    output_dir.mkdir(parents=True, exist_ok=True)
    outputs = {"results": str(output_dir / RESULTS_FILE)}
    if write_html:
        outputs["html"] = str(output_dir / REPORT_FILE)
    result = {**result, "outputs": outputs}
    text = json.dumps(_clean(result), ensure_ascii=False, indent=2, allow_nan=False)
    write_file_atomic(output_dir / RESULTS_FILE, text.encode("utf-8"))
    if write_html:
        write_file_atomic(output_dir / REPORT_FILE, render_html(result).encode("utf-8"))
    return outputs


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``search_results.json`` (a file or the folder holding it); refuse unknown format versions."""
    file = Path(path)
    if file.is_dir():
        file = file / RESULTS_FILE
    if not file.exists():
        raise NotFoundError(
            f"The search results file {str(file)!r} does not exist; run `stagewise search` first."
        )
    data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise UnsupportedFormatError(
            f"{str(file)!r} has format_version {version!r}; this stagewise reads {FORMAT_VERSION}."
        )
    return data


def _history(result: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    by_study: dict[str, list[dict[str, Any]]] = {}
    for t in result["trials"]:
        if t["state"] == "COMPLETE" and t["value"] is not None:
            by_study.setdefault(t["study"], []).append(t)
    for study, trials in sorted(by_study.items()):
        trials.sort(key=lambda t: t["number"])
        best, running = -math.inf, []
        for t in trials:
            best = max(best, t["value"])
            running.append(best)
        numbers = [t["number"] for t in trials]
        fig.add_trace(
            go.Scatter(
                x=numbers,
                y=[t["value"] for t in trials],
                mode="markers",
                name=f"{study} trials",
                legendgroup=study,
                opacity=0.5,
            )
        )
        fig.add_trace(
            go.Scatter(x=numbers, y=running, mode="lines", name=f"{study} best so far", legendgroup=study)
        )
    fig.update_layout(
        title=f"Optimisation history ({result['metric']}, inner walk-forward)",
        xaxis_title="trial",
        yaxis_title=result["metric"],
        height=420,
    )
    return fig


def _importances(result: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    items = sorted(result["importances"].items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h"))
    fig.update_layout(
        title="Parameter importances (fANOVA, mean over outer steps)", height=250 + 25 * len(items)
    )
    return fig


def _estimates(result: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    names, scores, lows, highs = [], [], [], []
    for key, label in (("nested", "nested (honest)"), ("naive", "naive best-of-N"), ("chance", "chance")):
        entry = result.get(key)
        if entry and entry.get("score") is not None:
            names.append(label if key != "chance" else f"chance ({entry['name']})")
            scores.append(entry["score"])
            lows.append(entry["score"] - (entry["ci"][0] if entry["ci"][0] is not None else entry["score"]))
            highs.append((entry["ci"][1] if entry["ci"][1] is not None else entry["score"]) - entry["score"])
    fig = go.Figure(go.Bar(x=names, y=scores, error_y={"type": "data", "array": highs, "arrayminus": lows}))
    fig.update_layout(title=f"Outer test {result['metric']} with 95 % intervals", height=380)
    return fig


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def render_html(result: dict[str, Any]) -> str:
    """The self-contained HTML report of a results dict."""
    steps = [
        [
            str(s["step"]) + (" (final)" if s["final"] else ""),
            f"{s['train_start']} to {s['train_end']}",
            f"{s.get('test_start', '')} to {s.get('test_end', '')}"
            if not s["final"]
            else "(register this one)",
            json.dumps(s["chosen_params"], sort_keys=True),
            _fmt(s["inner_score"]),
            _fmt(s["outer"]["score"]) if "outer" in s else "",
            f"{s['n_complete']}/{s['n_pruned']}/{s['n_failed']}",
        ]
        for s in result["steps"]
    ]
    diagnostics = result.get("diagnostics", {})
    lines = []
    cpcv = diagnostics.get("cpcv")
    if cpcv:
        pbo = cpcv.get("pbo")
        lines.append(
            f"<p><b>CPCV</b>: {cpcv['n_splits']} splits, {cpcv['n_paths']} paths per candidate. "
            f"{html.escape(result['meaning']['cpcv'])}</p>"
        )
        lines.append(
            _table(
                [
                    [json.dumps(c["params"], sort_keys=True), _fmt(c["mean"]), _fmt(c["min"]), _fmt(c["max"])]
                    for c in cpcv["candidates"]
                ],
                ["candidate", "mean path score", "min", "max"],
            )
        )
        if pbo:
            lines.append(
                f"<p><b>PBO = {pbo['pbo']:.2f}</b> over {pbo['n_combinations']} combinations. "
                f"{html.escape(result['meaning']['pbo'])}</p>"
            )
    dsr = diagnostics.get("deflated_sharpe")
    if dsr:
        lines.append(
            f"<p><b>Deflated Sharpe ratio = {dsr['deflated_sharpe_ratio']:.3f}</b> (Sharpe per bar "
            f"{dsr['sharpe_per_bar']:.4f} over {dsr['n_returns']} bars, {dsr['n_trials']} trials). "
            f"{html.escape(result['meaning']['deflated_sharpe'])}</p>"
        )
    figures = [_estimates(result), _history(result)] + (
        [_importances(result)] if result["importances"] else []
    )
    plots = "".join(
        fig.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False)
        for i, fig in enumerate(figures)
    )
    nested, naive = result["nested"], result.get("naive")
    summary = (
        f"<p>Nested estimate of {result['metric']}: <b>{_fmt(nested['score'])}</b> "
        f"(95 % interval {_fmt(nested['ci'][0])} to {_fmt(nested['ci'][1])}). "
        + (f"Naive best-of-{naive['n_trials']}: {_fmt(naive['score'])}. " if naive else "")
        + f"{html.escape(result['meaning']['nested'])} {html.escape(result['meaning']['naive'])}</p>"
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>stagewise search report</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px}</style></head><body>"
        f"<h1>Nested walk-forward search: {html.escape(result['study']['name'])}</h1>{summary}"
        "<h2>Chosen configuration (final window)</h2>"
        f"<pre>{html.escape(json.dumps(result['chosen']['params'], indent=2, sort_keys=True))}</pre>"
        "<h2>Outer steps</h2>"
        + _table(
            steps,
            [
                "step",
                "training",
                "test",
                "chosen parameters",
                "inner score",
                "outer score",
                "complete/pruned/failed",
            ],
        )
        + "<h2>Overfitting diagnostics</h2>"
        + "".join(lines)
        + plots
        + "</body></html>"
    )
