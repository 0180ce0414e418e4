"""``stagewise ops``: Prometheus alerting rules and a Grafana dashboard for a stagewise deployment.

Both are generated from code (:mod:`stagewise.ops`) and name only metrics that ``stagewise serve``
exposes at ``/metrics``. They print to stdout, or go to ``--output`` (written atomically).
"""

from __future__ import annotations

from pathlib import Path

import typer

from stagewise._exceptions import StorageError

app = typer.Typer(
    help="Operations: Prometheus alerting rules and a Grafana dashboard built from the server's metrics.",
    no_args_is_help=True,
)

OUTPUT = typer.Option(None, "--output", help="Write to this file (atomically) instead of stdout.")


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    from stagewise._atomic import write_file_atomic

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_file_atomic(output, text.encode("utf-8"))
    except StorageError:
        raise
    except OSError as exc:
        raise StorageError(f"--output {str(output)!r} is not writable: {exc.strerror or exc}") from None
    typer.echo(f"Wrote {output}", err=True)


def prometheus_rules(
    output: Path | None = OUTPUT,
    for_override: str | None = typer.Option(
        None, "--for", help="Replace every rule's 'for' duration, e.g. 0s to alert at once (tests, drills)."
    ),
    window: str = typer.Option("10m", "--window", help="Range of increase() over counters, e.g. 10m."),
    evaluation_interval: str | None = typer.Option(
        None, "--evaluation-interval", help="Each group's evaluation interval (default: Prometheus's global)."
    ),
) -> None:
    """Print the alerting rules (JSON, which Prometheus reads as YAML; check with `promtool check rules`)."""
    from stagewise._exceptions import ConfigError
    from stagewise.ops import prometheus_rules as build
    from stagewise.ops import rules_text

    try:
        rules = build(for_override=for_override, window=window, evaluation_interval=evaluation_interval)
    except ConfigError as exc:
        option = {
            "for_override": "--for",
            "window": "--window",
            "evaluation_interval": "--evaluation-interval",
        }
        message = str(exc)
        for name, flag in option.items():
            message = message.replace(f"'{name}'", flag)
        raise ConfigError(message) from None
    _emit(rules_text(rules), output)


def grafana_dashboard(
    output: Path | None = OUTPUT,
    title: str = typer.Option("stagewise", "--title", help="Dashboard title."),
    refresh: str = typer.Option("1m", "--refresh", help="Grafana auto-refresh interval, e.g. 1m."),
) -> None:
    """Print the Grafana dashboard JSON (Dashboards -> New -> Import; pick the Prometheus data source)."""
    from stagewise.ops import dashboard_text
    from stagewise.ops import grafana_dashboard as build

    _emit(dashboard_text(build(title=title, refresh=refresh)), output)


app.command("prometheus-rules")(prometheus_rules)
app.command("grafana-dashboard")(grafana_dashboard)
