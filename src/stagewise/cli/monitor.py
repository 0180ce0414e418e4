"""``stagewise monitor``: daily stats, trends, alerts, drift, reports and metrics from the prediction ledger.

Every command reads the ledger given by ``--db`` (a SQLAlchemy URL such as
``postgresql+psycopg://user@host/db``, or a SQLite file path; default ``data/monitor.db``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from stagewise.monitor import PerformanceMonitor

app = typer.Typer(
    help="Read the prediction ledger: daily stats, trends, alerts, drift, reports, Prometheus metrics.",
    no_args_is_help=True,
)

_DB_HELP = (
    "Ledger database: a SQLAlchemy URL (sqlite:///..., postgresql+psycopg://...) or a SQLite file path."
)
DB = typer.Option("data/monitor.db", "--db", help=_DB_HELP)
MODEL = typer.Option(None, "--model-version", help="Only this model version.")
VARIANT = typer.Option(None, "--variant", help="Only this rollout variant / cohort.")
VENUE = typer.Option(None, "--venue", help="Only this venue code (1-24).")
MODE = typer.Option(None, "--mode", help="Only this integration mode (e.g. DYNAMIC).")
AS_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
END = typer.Option(None, "--end-date", help="Last day of the window (YYYY-MM-DD); default today (UTC).")
CONFIG = typer.Option(
    None, "--config", help="Alert rules file (TOML or JSON); the seed's thresholds by default."
)
REPORT_OUTPUT = typer.Option(
    Path("temp/monitor/report.txt"), "--output", help="Text report path (HTML beside it)."
)
METRICS_OUTPUT = typer.Option(None, "--output", help="Write to this file instead of stdout.")


def _open(db: str, alert_config: Path | None = None) -> PerformanceMonitor:
    from stagewise.monitor import PerformanceMonitor

    return PerformanceMonitor.open_for_reading(db, alert_config=alert_config)


def _segments(model: str | None, variant: str | None, venue: int | None, mode: str | None) -> dict[str, Any]:
    return {"model_version": model, "variant": variant, "venue_code": venue, "integration_mode": mode}


def _json(value: Any) -> str:
    def _clean(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return None
        if isinstance(v, dict):
            return {k: _clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [_clean(x) for x in v]
        return v

    return json.dumps(_clean(value), ensure_ascii=False, indent=2, default=str)


def _pct(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2%}"


def _score(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def _with_ci(day: dict[str, Any], name: str) -> str:
    return f"{_pct(day[name])} [{_pct(day[name + '_ci_low'])}, {_pct(day[name + '_ci_high'])}]"


def _print_days(days: list[dict[str, Any]], title: str) -> None:
    from rich.table import Table

    from stagewise._console import make_console

    table = Table(title=title)
    for col in (
        "date",
        "races",
        "win (95% CI)",
        "trifecta (95% CI)",
        "trio",
        "score acc.",
        "pending",
        "void",
    ):
        table.add_column(col, justify="right")
    for d in days:
        table.add_row(
            d["date"],
            str(d["total_races"]),
            _with_ci(d, "hit_rate_1st"),
            _with_ci(d, "hit_rate_top3"),
            _pct(d["hit_rate_trio"]),
            _score(d["avg_score_accuracy"]),
            str(d["pending_races"]),
            str(d["void_races"]),
        )
    make_console().print(table)


@app.command()
def stats(
    date: str = typer.Option(..., "--date", help="The day (YYYY-MM-DD)."),
    db: str = DB,
    model_version: str | None = MODEL,
    variant: str | None = VARIANT,
    venue: int | None = VENUE,
    mode: str | None = MODE,
    as_json: bool = AS_JSON,
) -> None:
    """Win / trifecta / trio hit rates with 95% intervals, score accuracy and race counts of one day."""
    monitor = _open(db)
    result = monitor.calculate_daily_stats(date, **_segments(model_version, variant, venue, mode))
    if result is None:
        typer.echo(_json(None) if as_json else f"No races logged on {date}.")
    elif as_json:
        typer.echo(_json(result))
    else:
        _print_days([result], f"Daily stats {date}")


@app.command()
def trend(
    days: int = typer.Option(30, "--days", help="Number of days ending at --end-date."),
    end_date: str | None = END,
    db: str = DB,
    model_version: str | None = MODEL,
    variant: str | None = VARIANT,
    venue: int | None = VENUE,
    mode: str | None = MODE,
    as_json: bool = AS_JSON,
) -> None:
    """Daily stats of each day with races in the window (read from the rollup table)."""
    monitor = _open(db)
    result = monitor.get_performance_trend(
        days, end_date=end_date, **_segments(model_version, variant, venue, mode)
    )
    if as_json:
        typer.echo(_json(result))
    elif not result:
        typer.echo(f"No races logged in the {days} days up to {end_date or 'today'}.")
    else:
        _print_days(result, f"Performance trend ({days} days)")


@app.command()
def alerts(
    date: str = typer.Option(..., "--date", help="The day (YYYY-MM-DD)."),
    db: str = DB,
    config: Path | None = CONFIG,
    domain: str = typer.Option("races", "--domain", help="races or markets ('market' also accepted)."),
    model_version: str | None = MODEL,
    variant: str | None = VARIANT,
    as_json: bool = AS_JSON,
) -> None:
    """Check the day's alert rules; firing alerts are recorded (once per cooldown) and notified."""
    monitor = _open(db, config)
    result = monitor.check_alerts(date, domain=domain, model_version=model_version, variant=variant)
    if as_json:
        typer.echo(_json(result))
        return
    if not result:
        typer.echo(f"No alerts for {date}.")
    for alert in result:
        typer.echo(f"[{alert['alert_type']}] {alert['message']}")


@app.command()
def report(
    days: int = typer.Option(7, "--days", help="Number of days ending at --end-date."),
    output: Path = REPORT_OUTPUT,
    lang: str = typer.Option("en", "--lang", help="en, or ja for the seed's Japanese labels."),
    end_date: str | None = END,
    db: str = DB,
    model_version: str | None = MODEL,
    variant: str | None = VARIANT,
) -> None:
    """Write the text report and an HTML report with trend charts, interval bands and thresholds."""
    monitor = _open(db)
    paths = monitor.generate_report(
        days, output, lang=lang, end_date=end_date, model_version=model_version, variant=variant
    )
    typer.echo(f"Wrote {paths['text']} and {paths['html']}")


@app.command()
def drift(
    reference_days: int = typer.Option(28, "--reference-days", help="Days of the reference window."),
    current_days: int = typer.Option(7, "--current-days", help="Days of the current window."),
    end_date: str | None = END,
    features: str | None = typer.Option(None, "--features", help="Comma-separated feature names."),
    domain: str = typer.Option("races", "--domain", help="races or market."),
    alpha: float = typer.Option(0.01, "--alpha", help="False-alarm level of the whole report."),
    no_alert: bool = typer.Option(
        False, "--no-alert", help="Report only; do not record FEATURE_DRIFT alerts."
    ),
    db: str = DB,
    as_json: bool = AS_JSON,
) -> None:
    """Drift of the logged feature snapshots: the last --current-days against the --reference-days before."""
    from stagewise._exceptions import DataValidationError

    monitor = _open(db)
    names = None if features is None else [f.strip() for f in features.split(",") if f.strip()]
    try:
        result = monitor.drift(
            reference_days, current_days, features=names, end_date=end_date, domain=domain, alpha=alpha,
            alert=not no_alert,
        )  # fmt: skip
    except (KeyError, IndexError) as exc:
        raise DataValidationError(f"No feature snapshots to compare in these windows ({exc}).") from exc
    if as_json:
        typer.echo(_json(result.to_dict()))
        return
    typer.echo(result.to_frame().to_string(index=False))
    typer.echo(f"drifted: {', '.join(result.drifted_features) or 'none'} (severity {result.severity})")


@app.command("export-metrics")
def export_metrics(
    end_date: str | None = END,
    output: Path | None = METRICS_OUTPUT,
    db: str = DB,
) -> None:
    """Prometheus text exposition of the latest daily metrics (labels: domain, model, variant)."""
    monitor = _open(db)
    text = monitor.prometheus_metrics(end_date=end_date)
    if output is None:
        typer.echo(text, nl=False)
    else:
        from stagewise._output import write_text_output

        write_text_output(output, text)
        typer.echo(f"Wrote {output}")
