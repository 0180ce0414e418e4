"""``stagewise serve``: the prediction server (FastAPI on uvicorn).

See ``docs/serving.md`` for the routes, routing, logging guarantees and deployment.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import typer

__all__ = ["serve"]


HOST = typer.Option("127.0.0.1", "--host", help="Interface to bind (0.0.0.0 for every interface).")
PORT = typer.Option(8000, "--port", help="TCP port.")
WORKERS = typer.Option(1, "--workers", min=1, help="uvicorn worker processes (each loads the models).")
DB = typer.Option(
    None, "--db", help="Monitor ledger URL (default sqlite:///data/monitor.db) or postgresql+psycopg://..."
)
MODELS = typer.Option(
    Path("models"), "--models", help="Model registry root (aliases champion/challenger/market)."
)
CONFIG = typer.Option(
    "config/rollout_config.json", "--config", help="Rollout config: the seed's JSON file or a SQLAlchemy URL."
)
FEATURE = typer.Option(
    "challenger_model", "--feature", help="Rollout feature: races it enables get the challenger."
)
SHADOW = typer.Option(False, "--shadow", help="Score every race with both models and log both.")
VARIANT = typer.Option(
    None,
    "--variant",
    help="A/B/n: NAME=REF, the registry alias or version answering variant NAME of the feature's split "
    "(repeat once per variant; the mapping must name exactly the split's variants).",
)
SIGNATURE_ERRORS = typer.Option(
    "detailed",
    "--signature-errors",
    help="'private': a 422 for input breaking a model's signature names no feature or rule "
    "unless the request carries the admin token.",
)
RELOAD = typer.Option(
    5.0, "--reload-interval", help="Seconds between checks of the model aliases and the rollout config."
)
QUEUE_MAX = typer.Option(100_000, "--queue-max", help="Predictions held while the ledger is slow or down.")
_OPTION = {
    "models_dir": "--models",
    "db_url": "--db",
    "rollout_config": "--config",
    "feature": "--feature",
    "reload_interval_s": "--reload-interval",
    "queue_max": "--queue-max",
    "signature_errors": "--signature-errors",
    "variants": "--variant",
}
LOG_LEVEL = typer.Option("info", "--log-level", help="uvicorn log level.")


def serve(
    host: str = HOST,
    port: int = PORT,
    workers: int = WORKERS,
    db: str | None = DB,
    models: Path = MODELS,
    config: str = CONFIG,
    feature: str = FEATURE,
    shadow: bool = SHADOW,
    variant: list[str] | None = VARIANT,
    signature_errors: str = SIGNATURE_ERRORS,
    reload_interval: float = RELOAD,
    queue_max: int = QUEUE_MAX,
    log_level: str = LOG_LEVEL,
) -> None:
    """Serve race and market predictions, routed by the rollout and logged to the monitor ledger.

    Example: STAGEWISE_ADMIN_TOKEN=$(openssl rand -hex 16) stagewise serve --models models --workers 2
    """
    import uvicorn
    from pydantic import ValidationError

    from stagewise._exceptions import ConfigError
    from stagewise.serve.metrics import MULTIPROC_ENV
    from stagewise.serve.settings import SETTINGS_ENV, ServeSettings

    variants = _variant_mapping(variant or [])
    try:
        settings = ServeSettings(
            models_dir=str(models),
            db_url=db,
            rollout_config=config,
            feature=feature,
            shadow=shadow,
            variants=variants,
            signature_errors=signature_errors,
            reload_interval_s=reload_interval,
            queue_max=queue_max,
        )
    except ValidationError as exc:
        problems = [
            f"{_OPTION.get(str(e['loc'][0]), e['loc'][0])} {e['msg'][:1].lower()}{e['msg'][1:]}; "
            f"got {e['input']!r}"
            for e in exc.errors()
        ]
        raise ConfigError("; ".join(problems) + ".") from None
    if not models.is_dir():
        raise ConfigError(f"--models {str(models)!r} is not a directory; point it at a ModelRegistry root.")
    from stagewise.serve.variants import check_served_variants

    check_served_variants(settings)  # refused here in one line, not as a traceback in every worker
    from stagewise.cli._ports import check_port

    check_port(host, port)
    log_config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["loggers"]["stagewise"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    os.environ[SETTINGS_ENV] = json.dumps(settings.model_dump())
    own_metrics_dir = None
    if workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # one directory shared by the workers so that /metrics on any of them shows the sum
        own_metrics_dir = tempfile.mkdtemp(prefix="stagewise-metrics-")
        os.environ[MULTIPROC_ENV] = own_metrics_dir
    typer.echo(
        f"stagewise serve: http://{host}:{port} (workers={workers}, models={models}, "
        f"rollout={config} feature={feature}{', shadow' if shadow else ''}"
        f"{''.join(f', variant {k}={v}' for k, v in variants.items())})",
        err=True,
    )
    try:
        uvicorn.run(
            "stagewise.serve.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=log_config,
            timeout_graceful_shutdown=None,
        )
    finally:
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


def _variant_mapping(options: list[str]) -> dict[str, str]:
    """``--variant NAME=REF`` options as a mapping; a malformed or repeated one is a ConfigError."""
    from stagewise._exceptions import ConfigError

    mapping: dict[str, str] = {}
    for option in options:
        name, sep, ref = option.partition("=")
        if not sep or not name.strip() or not ref.strip():
            raise ConfigError(
                f"--variant must be NAME=REF (a variant of the split and a registry ref); got {option!r}."
            )
        if name.strip() in ("control", "on"):
            raise ConfigError(
                f"--variant {option}: {name.strip()!r} is a rollout group, not a variant of a split (the "
                "champion answers control); name a variant of the feature's split."
            )
        if name.strip() in mapping:
            raise ConfigError(f"--variant names variant {name.strip()!r} twice; got {option!r}.")
        mapping[name.strip()] = ref.strip()
    return mapping
