"""Where rollout configs live: the store interface and its in-memory twin.

A store keeps one :class:`~stagewise.rollout.config.RolloutConfig` and its audit log.
Every write is a *change*: a function from the current config to the new config and
the audit records explaining it. The store runs it under its lock (file lock or
database transaction), seals the records into the hash chain and commits both, so a
failing change (bad input) stores nothing.

Implementations: :class:`MemoryRolloutStore` (tests, one process),
:class:`~stagewise.rollout.file_store.FileRolloutStore` (JSON file + JSONL log),
:class:`~stagewise.rollout.sql_store.SqlRolloutStore` (SQLAlchemy, several hosts).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from stagewise._exceptions import ConfigError
from stagewise.rollout.audit import GENESIS, AuditReport, seal, verify_chain
from stagewise.rollout.config import RolloutConfig
from stagewise.rollout.integrity import (
    CONFIG_HASH_KEY,
    ENTRY_FORMAT,
    check_config_digest,
    config_digest,
    detect_manual_edit,
    routing_document,
)
from stagewise.rollout.stages import parse_stage

__all__ = [
    "ACCEPT_MANUAL_EDIT",
    "KILL_FOUND_MANUAL_EDIT",
    "Change",
    "MemoryRolloutStore",
    "RolloutStore",
    "check_replay",
    "guard_manual_edit",
    "seal_records",
]

ACCEPT_MANUAL_EDIT = "accept_manual_edit"
"""Audit action of a write that acknowledged a hand-edited config (its details hold what was accepted)."""
KILL_FOUND_MANUAL_EDIT = "manual_edit_found_by_kill"
"""Audit action of a kill that found a hand-edited config (a kill never waits for an acknowledgement)."""

Change = Callable[[RolloutConfig], tuple[RolloutConfig, list[dict[str, Any]]]]
"""Current config -> (new config, audit records to append)."""


class RolloutStore(Protocol):
    """What :class:`~stagewise.rollout.GradualRollout` needs from a store."""

    location: str

    def read(self) -> RolloutConfig:
        """The current config (an empty one when nothing was stored yet)."""
        ...

    def version_token(self) -> Hashable:
        """A cheap value that changes whenever the stored config changes."""
        ...

    def update(self, change: Change, *, repair: Mapping[str, Any] | None = None) -> RolloutConfig:
        """Apply ``change`` atomically with its audit records; return the new config.

        ``repair`` (an unsealed audit record: who, when, why) allows a store whose log is text
        to move an unreadable tail of the log aside before writing, and records that with it;
        without it such a log makes the write refuse.
        """
        ...

    def audit_entries(self) -> list[dict[str, Any]]:
        """Every audit entry, oldest first."""
        ...

    def verify_audit(self) -> AuditReport:
        """Check the audit chain and that it agrees with the stored config."""
        ...


def seal_records(
    records: Sequence[Mapping[str, Any]], head_seq: int, head_hash: str, config: RolloutConfig
) -> list[dict[str, Any]]:
    """Chain ``records`` after the entry (``head_seq``, ``head_hash``), each stamped with the
    digest of ``config``, the config the write leaves (audit entry format 2)."""
    stamp = {"entry_format": ENTRY_FORMAT, CONFIG_HASH_KEY: config_digest(config)}
    sealed: list[dict[str, Any]] = []
    for record in records:
        entry = seal({**record, **stamp}, seq=head_seq + 1, prev_hash=head_hash)
        sealed.append(entry)
        head_seq, head_hash = entry["seq"], entry["hash"]
    return sealed


def check_replay(
    report: AuditReport, entries: Sequence[Mapping[str, Any]], config: RolloutConfig, location: str = "memory"
) -> None:
    """Add a problem to ``report`` for every feature whose stored stage differs from the log's last word,
    and when the config differs from the one the last entry recorded (entry format 2).

    An ``accept_manual_edit`` entry resets the log's word to the stages it accepted.
    """
    last: dict[str, str] = {}
    for entry in entries:
        feature, new_stage = entry.get("feature"), entry.get("new_stage")
        if entry.get("action") in (ACCEPT_MANUAL_EDIT, KILL_FOUND_MANUAL_EDIT):
            accepted = (entry.get("details") or {}).get("accepted") or {}
            for name, doc in (accepted.get("feature_rollouts") or {}).items():
                if isinstance(doc, Mapping) and isinstance(doc.get("stage"), str):
                    last[str(name)] = str(doc["stage"])
        elif isinstance(feature, str) and isinstance(new_stage, str):
            last[feature] = new_stage
    for feature, stage in last.items():
        stored = config.features.get(feature)
        if stored is None:
            continue  # removed features keep their history
        if parse_stage(stage).name != stored.stage.name:
            report.problems.append(
                f"feature {feature!r}: the config says stage {stored.stage.name!r} but the audit log's last "
                f"change says {stage!r}; the config was edited outside stagewise"
            )
    report.ok = not report.problems
    check_config_digest(report, entries, config, location)


def guard_manual_edit(
    change: Change, location: str, acknowledgement: Mapping[str, Any] | None, *, kill: bool = False
) -> Change:
    """``change``, refused on a hand-edited config unless acknowledged (a kill is never refused).

    ``acknowledgement`` is the unsealed ``accept_manual_edit`` record (who, when, why); when the
    config was edited it goes first in the write's records with the edit and the accepted
    features in its details. A kill records the edit it found the same way.
    """

    def guarded(current: RolloutConfig) -> tuple[RolloutConfig, list[dict[str, Any]]]:
        edit = detect_manual_edit(current)
        if edit is not None and acknowledgement is None and not kill:
            raise ConfigError(
                f"{edit.describe(location)}. Nothing was written. Check the config "
                "(`stagewise rollout audit --verify`), then repeat the change with --accept-manual-edit "
                "--reason '...' (API: accept_manual_edit=True) to keep the edited config and record it."
            )
        new, records = change(current)
        if edit is None or acknowledgement is None:
            return new, records
        note = {**acknowledgement, "action": KILL_FOUND_MANUAL_EDIT if kill else ACCEPT_MANUAL_EDIT}
        note["details"] = {**edit.to_dict(), "accepted": routing_document(current)}
        return new, [note, *records]

    return guarded


class MemoryRolloutStore:
    """A store that lives in memory: the in-process twin of the file and SQL stores.

    Examples
    --------
    >>> from stagewise.rollout import GradualRollout
    >>> rollout = GradualRollout(store=MemoryRolloutStore())
    >>> _ = rollout.add_feature("new_model", stage="10%", salt="demo")
    >>> rollout.get_rollout_status()["feature_rollouts"]["new_model"]["stage"]
    '10%'
    """

    def __init__(self, config: RolloutConfig | None = None) -> None:
        self.location = "memory"
        self._config = config or RolloutConfig()
        self._entries: list[dict[str, Any]] = []
        self._version = 0
        self._lock = threading.Lock()

    def read(self) -> RolloutConfig:
        return self._config

    def version_token(self) -> Hashable:
        return self._version

    def update(self, change: Change, *, repair: Mapping[str, Any] | None = None) -> RolloutConfig:
        with self._lock:
            new, records = change(self._config)
            head_hash = str(self._entries[-1]["hash"]) if self._entries else GENESIS
            sealed = seal_records(records, len(self._entries), head_hash, new)
            self._config = replace(new, audit_tail=sealed or new.audit_tail)
            self._entries.extend(sealed)
            self._version += 1
            return self._config

    def audit_entries(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self._entries]

    def verify_audit(self) -> AuditReport:
        report = verify_chain(self._entries)
        check_replay(report, self._entries, self._config)
        return report
