"""The registry's small mutable state: production, previous production, aliases, history.

Stored in ``<root>/registry.json`` (canonical JSON, written atomically under the
registry's file lock). Everything else in the registry is immutable once written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stagewise._atomic import write_file_atomic
from stagewise._exceptions import ArtifactError, ConfigError, UnsupportedFormatError
from stagewise.models.manifest import canonical_json

__all__ = [
    "ALIAS_PATTERN",
    "RESERVED_REFS",
    "STATE_FILE",
    "STATE_FORMAT_VERSION",
    "VERSION_PATTERN",
    "RegistryState",
    "validate_alias",
]

STATE_FILE = "registry.json"

STATE_FORMAT_VERSION = 1
"""Format of ``registry.json``. Bump on an incompatible change and keep a reader for 1."""

#: ``20260122T101500Z-a1b2c3``: UTC time to the second, then 6 random hex digits.
VERSION_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
ALIAS_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
#: References with a fixed meaning; they cannot be alias names.
RESERVED_REFS: tuple[str, ...] = ("production", "previous", "latest")


def validate_alias(alias: Any) -> str:
    """An alias is lowercase letters, digits, ``-`` or ``_`` (e.g. ``champion``), not a reserved ref."""
    if not isinstance(alias, str) or not ALIAS_PATTERN.match(alias) or alias in RESERVED_REFS:
        raise ConfigError(
            f"Alias names must match {ALIAS_PATTERN.pattern} (e.g. 'champion', 'challenger') "
            f"and not be one of {list(RESERVED_REFS)}; got {alias!r}."
        )
    return alias


@dataclass
class RegistryState:
    """Which version is in production, which one rollback returns to, and the aliases."""

    production: str | None = None
    previous_production: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, root: Path) -> RegistryState:
        """The state stored under ``root`` (empty if the registry is new)."""
        path = root / STATE_FILE
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"{path}: not valid JSON ({exc}); restore it from a backup.") from None
        fmt = body.get("format_version") if isinstance(body, dict) else None
        if not isinstance(fmt, int) or isinstance(fmt, bool):
            raise ArtifactError(f"{path}: 'format_version' must be an int; got {fmt!r}.")
        if fmt > STATE_FORMAT_VERSION:
            raise UnsupportedFormatError(
                f"{path}: format_version {fmt} is newer than this stagewise reads "
                f"(<= {STATE_FORMAT_VERSION})."
            )
        return cls(
            production=body.get("production"),
            previous_production=body.get("previous_production"),
            aliases=dict(body.get("aliases") or {}),
            history=list(body.get("history") or []),
        )

    def write(self, root: Path) -> None:
        """Store the state atomically (call with the registry lock held)."""
        body = {
            "format_version": STATE_FORMAT_VERSION,
            "production": self.production,
            "previous_production": self.previous_production,
            "aliases": dict(sorted(self.aliases.items())),
            "history": self.history,
        }
        write_file_atomic(root / STATE_FILE, canonical_json(body))

    def promoted_at(self, version: str) -> str | None:
        """When ``version`` last became production (promote or rollback)."""
        for event in reversed(self.history):
            if event.get("action") in ("promote", "rollback") and event.get("version") == version:
                return str(event.get("at"))
        return None
