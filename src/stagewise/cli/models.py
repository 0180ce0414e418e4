"""``stagewise models``: list, inspect, verify, promote and roll back saved model versions.

Every command works on the registry directory given by ``--root`` (default ``models``,
the seed's layout: ``models/training/`` and ``models/production/``). A reference (REF)
is a version id, ``production``, ``previous``, ``latest`` or an alias such as ``champion``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from stagewise.models import ModelRegistry

app = typer.Typer(
    help="Manage the pickle-free model registry: list, show, verify, promote, rollback, alias.",
    no_args_is_help=True,
)

ROOT = typer.Option("models", "--root", help="Registry directory (holds training/ and production/).")
AS_JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
REF = typer.Argument(..., help="Version id, 'production', 'previous', 'latest' or an alias (e.g. champion).")


def _registry(root: str) -> ModelRegistry:
    from pathlib import Path

    from stagewise._exceptions import NotFoundError
    from stagewise.models import ModelRegistry

    if not Path(root).is_dir():  # every models command needs saved versions: never create an empty registry
        raise NotFoundError(
            f"No model registry at {root!r}; save one with `stagewise train --root {root}` or pass --root."
        )
    return ModelRegistry(root)


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _metrics_text(metrics: dict[str, Any], limit: int = 4) -> str:
    parts = [f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in list(metrics.items())[:limit]]
    return ", ".join(parts) + (" …" if len(metrics) > limit else "")


@app.command("list")
def list_versions(root: str = ROOT, as_json: bool = AS_JSON) -> None:
    """List every saved version, oldest first, with its role and aliases."""
    from rich.table import Table

    from stagewise._console import cell, make_console

    registry = _registry(root)
    versions = registry.list_versions()
    if as_json:
        _echo_json([_summary(s) for s in versions])
        return
    if not versions:
        typer.echo(f"No saved versions in {root}. Train one with `stagewise train`.")
        return
    table = Table(title=cell(f"Model versions in {root}"))
    table.add_column("version", no_wrap=True, min_width=23)
    calibrated = any(s.calibration for s in versions)  # the column only when some version has a calibrator
    columns = (
        "created (UTC)",
        "features",
        "data window",
        "metrics",
        *(("calibration",) if calibrated else ()),
    )
    for column in (*columns, "aliases", "role"):
        table.add_column(column)
    for s in versions:
        window = s.data_window or {}
        role = "production" if s.is_production else ("previous" if s.is_previous else "")
        table.add_row(
            cell(s.version),
            cell((s.created_at or "?").replace("+00:00", "")),
            cell(s.n_features if s.n_features is not None else "?"),
            cell(f"{window.get('start', '')} → {window.get('end', '')}" if window else ""),
            # the held-out ECEs sort first; the scores stay in view and show prints every metric
            cell(
                _metrics_text(
                    {k: v for k, v in s.performance_metrics.items() if not k.startswith("calibration_")}
                )
            ),
            *((cell(s.calibration or "none"),) if calibrated else ()),
            cell(", ".join(s.aliases)),
            f"[bold green]{role}[/]" if s.is_production else role,
        )
    make_console().print(table)


def _summary(s: Any) -> dict[str, Any]:
    return {
        "version": s.version,
        "created_at": s.created_at,
        "n_features": s.n_features,
        "data_window": s.data_window,
        "performance_metrics": s.performance_metrics,
        "aliases": list(s.aliases),
        "is_production": s.is_production,
        "is_previous": s.is_previous,
        "path": str(s.path),
        "calibration": s.calibration,
    }


@app.command("show")
def show(ref: str = REF, root: str = ROOT, as_json: bool = AS_JSON) -> None:
    """Show a version's flavour, input signature, metadata, files and role (`verify` checks hashes)."""
    from rich.table import Table

    from stagewise._console import cell, make_console

    info = _registry(root).info(ref)
    if as_json:
        _echo_json(info)
        return
    meta = info["metadata"]
    console = make_console()
    head = Table(title=cell(f"{info['version']} ({ref})"), show_header=False)
    head.add_column("field", style="bold")
    head.add_column("value")
    role = "production" if info["is_production"] else ("previous production" if info["is_previous"] else "-")
    rows = [
        ("model type", meta.get("model_type")),
        ("flavour", info["flavour"]),
        ("calibration", info.get("calibration") or "none"),
        ("feature set", json.dumps(info["feature_set"], ensure_ascii=False) if info["feature_set"] else "-"),
        ("created (UTC)", meta.get("created_at")),
        ("role", role),
        ("aliases", ", ".join(info["aliases"]) or "-"),
        ("format version", meta.get("format_version")),
        ("features", f"{meta.get('n_features')}: {', '.join(meta.get('feature_names', []))}"),
        ("weights", ", ".join(f"{k} {v:.2f}" for k, v in (meta.get("model_weights") or {}).items())),
        ("data window", json.dumps(meta.get("data_window"), ensure_ascii=False)),
        ("random seed", meta.get("random_seed")),
        ("metrics", _metrics_text(meta.get("performance_metrics") or {}, limit=20) or "-"),
        ("libraries", ", ".join(f"{k} {v}" for k, v in (meta.get("library_versions") or {}).items())),
        ("notes", meta.get("notes") or "-"),
        ("stored in", ", ".join(info["locations"])),
    ]
    for name, value in rows:
        head.add_row(name, cell(value))
    console.print(head)
    signature = Table(title="input signature (checked before every prediction)")
    for column in ("#", "feature", "dtype", "rule"):
        signature.add_column(column)
    for spec in info["signature"]:
        signature.add_row(str(spec["position"]), spec["name"], spec["dtype"], spec["rule"])
    console.print(signature)
    files = Table(title="files (manifest)")
    for column in ("file", "bytes", "sha256"):
        files.add_column(column)
    for name, entry in sorted(info["files"].items()):
        files.add_row(cell(name), cell(entry.get("size")), cell(entry.get("sha256", "")))
    console.print(files)


@app.command("verify")
def verify(ref: str = REF, root: str = ROOT) -> None:
    """Check every file of a version (all its copies) against its SHA-256 manifest."""
    from rich.table import Table

    from stagewise._console import cell, make_console

    registry = _registry(root)
    version = registry.resolve(ref)
    checked = registry.verify(ref)
    table = Table(title=f"{version}: every file matches its manifest")
    table.add_column("file", no_wrap=True)
    for column in ("bytes", "sha256", ""):
        table.add_column(column)
    for f in checked:
        table.add_row(cell(f.name), cell(f.size), cell(f.sha256), "[green]ok[/]")
    make_console().print(table)


@app.command("promote")
def promote(ref: str = REF, root: str = ROOT) -> None:
    """Make a version the production model and the champion (the old one stays for rollback)."""
    registry = _registry(root)
    before = registry.resolve("production") if _has_production(registry) else None
    version = registry.promote(ref)
    if before == version:
        typer.echo(f"{version} is already in production; nothing changed.")
    else:
        typer.echo(f"Promoted {version} to production (champion). Previous: {before or 'none'}.")


@app.command("rollback")
def rollback(root: str = ROOT) -> None:
    """Put the previous production version back (one step)."""
    registry = _registry(root)
    current = registry.resolve("production") if _has_production(registry) else None
    version = registry.rollback()
    typer.echo(f"Rolled back production from {current} to {version} (champion).")


@app.command("alias")
def alias(
    name: str = typer.Argument(..., help="Alias name, e.g. challenger or champion."),
    ref: str = typer.Argument(None, help="Version (or ref) the alias should point to; omit with --remove."),
    root: str = ROOT,
    remove: bool = typer.Option(False, "--remove", help="Delete the alias instead of setting it."),
) -> None:
    """Point an alias at a version (or remove it with --remove)."""
    from stagewise._exceptions import ConfigError

    registry = _registry(root)
    if remove:
        registry.remove_alias(name)
        typer.echo(f"Removed alias {name}.")
        return
    if ref is None:
        raise ConfigError("alias needs a VERSION to point to (or --remove to delete the alias).")
    version = registry.set_alias(name, ref)
    typer.echo(f"{name} → {version}")


def _has_production(registry: ModelRegistry) -> bool:
    from stagewise._exceptions import NotFoundError

    try:
        registry.resolve("production")
    except NotFoundError:
        return False
    return True
