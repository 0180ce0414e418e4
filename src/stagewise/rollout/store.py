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

from stagewise.rollout.audit import GENESIS, AuditReport, seal, verify_chain
from stagewise.rollout.config import RolloutConfig
from stagewise.rollout.stages import parse_stage

__all__ = ["Change", "MemoryRolloutStore", "RolloutStore", "check_replay", "seal_records"]

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

    def update(self, change: Change) -> RolloutConfig:
        """Apply ``change`` atomically with its audit records; return the new config."""
        ...

    def audit_entries(self) -> list[dict[str, Any]]:
        """Every audit entry, oldest first."""
        ...

    def verify_audit(self) -> AuditReport:
        """Check the audit chain and that it agrees with the stored config."""
        ...


def seal_records(records: Sequence[Mapping[str, Any]], head_seq: int, head_hash: str) -> list[dict[str, Any]]:
    """Chain ``records`` after the entry (``head_seq``, ``head_hash``)."""
    sealed: list[dict[str, Any]] = []
    for record in records:
        entry = seal(record, seq=head_seq + 1, prev_hash=head_hash)
        sealed.append(entry)
        head_seq, head_hash = entry["seq"], entry["hash"]
    return sealed


def check_replay(report: AuditReport, entries: Sequence[Mapping[str, Any]], config: RolloutConfig) -> None:
    """Add a problem to ``report`` for every feature whose stored stage differs from the log's last word."""
    last: dict[str, str] = {}
    for entry in entries:
        feature, new_stage = entry.get("feature"), entry.get("new_stage")
        if isinstance(feature, str) and isinstance(new_stage, str):
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

    def update(self, change: Change) -> RolloutConfig:
        with self._lock:
            new, records = change(self._config)
            head_hash = str(self._entries[-1]["hash"]) if self._entries else GENESIS
            sealed = seal_records(records, len(self._entries), head_hash)
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
