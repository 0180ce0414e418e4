"""What several rollout commands share (options, opening the rollout, JSON output), written once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from stagewise.rollout import GradualRollout

__all__ = [
    "ACCEPT_MANUAL_EDIT",
    "AS_JSON",
    "CONFIG",
    "CRITICAL_RULE",
    "DB",
    "POLICY",
    "echo_json",
    "open_rollout",
    "require_config",
]

CRITICAL_RULE = typer.Option(
    None,
    "--critical-rule",
    help="CRITICAL by the rate's Wilson 95 % upper bound (upper_bound, the default) or by the "
    "point value as the seed did (point); default: the policy's own.",
)
POLICY = typer.Option(
    None, "--policy", help="Health policy: races (default), markets, or a JSON file (see docs/controller.md)."
)
ACCEPT_MANUAL_EDIT = typer.Option(
    False,
    "--accept-manual-edit",
    help="The config was edited outside stagewise (see `rollout status`): keep the edit and write anyway; "
    "--reason says why (both go to the audit log). Also moves an unreadable last audit line aside.",
)
CONFIG = typer.Option(
    Path("config/rollout_config.json"), "--config", help="Rollout config JSON (the seed's format)."
)
DB = typer.Option(
    None,
    "--db",
    help="Use the rollout tables in this database (SQLAlchemy URL or SQLite file) instead of --config.",
)
AS_JSON = typer.Option(False, "--json", help="Print JSON instead of text.")


def require_config(config: Path, db: str | None) -> None:
    """A command that reads a rollout names a missing --config file instead of creating one."""
    from stagewise._exceptions import NotFoundError

    if db is None and not config.exists():
        raise NotFoundError(
            f"The rollout config {str(config)!r} does not exist; create a feature in it with "
            "'stagewise rollout add FEATURE --config ...', or pass --config or --db."
        )


def open_rollout(config: Path, db: str | None, *, create: bool = False) -> GradualRollout:
    """The rollout of --config (or --db); a missing config file is an error unless ``create``."""
    from stagewise.rollout import GradualRollout

    if not create:
        require_config(config, db)
    return GradualRollout(config, db_url=db, refresh_interval=0)


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON (dates and other objects as their text)."""
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))
