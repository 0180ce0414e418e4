"""Does the stored config still match its audit chain? (pure: configs and entries in, verdicts out)

Audit entries of format 2 (:data:`ENTRY_FORMAT`) carry ``config_sha256``: the SHA-256 of
the canonical JSON of the config's ``feature_rollouts`` *after* the write that made the
entry (:func:`config_digest`). Every key of every feature is covered: stage, salt, hash
mode, variants, kill mark, ``enabled_at`` and keys stagewise does not know, and a feature
added or removed by hand changes the digest too. So:

* ``--verify`` compares the digest of the stored config with the last entry's
  (:func:`check_config_digest`);
* every read can tell cheaply that the config was edited by hand since the last audited
  write (:func:`detect_manual_edit`), because the store keeps the last write's entries
  beside the config (``audit_tail``).

Entries of format 1 (written before this check existed; no ``entry_format`` key) record
stages only. A log whose last entry is of format 1 is still verified (hash chain, and the
stage of each feature against the log's last stage change), but a hand edit of anything
else cannot be proven until the next write records a digest.

Examples
--------
>>> from stagewise.rollout.config import parse_config
>>> salted = {"stage": "10%", "salt": "s", "hash_mode": "blake2b-64"}
>>> config = parse_config({"feature_rollouts": {"f": salted}})
>>> entry = {"seq": 1, "config_sha256": config_digest(config)}
>>> detect_manual_edit(config.with_audit_tail([entry])) is None
True
>>> edited = parse_config({"feature_rollouts": {"f": {**salted, "salt": "t"}}})
>>> detect_manual_edit(edited.with_audit_tail([entry])).seq
1
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stagewise.rollout.audit import AuditReport, canonical_json
from stagewise.rollout.config import RolloutConfig

__all__ = [
    "CONFIG_HASH_KEY",
    "ENTRY_FORMAT",
    "ManualEdit",
    "check_config_digest",
    "config_digest",
    "detect_manual_edit",
    "routing_document",
]

ENTRY_FORMAT = 2
"""Format of the audit entries this release writes. 1: no ``entry_format`` key, stages only;
2: ``config_sha256`` of the config after the write. Bump it when an entry key changes
meaning, and keep :func:`check_config_digest` able to read every older format."""

CONFIG_HASH_KEY = "config_sha256"


def routing_document(config: RolloutConfig) -> dict[str, Any]:
    """The part of the config that decides routing: every feature with every key it stores."""
    return {"feature_rollouts": {name: f.to_document() for name, f in sorted(config.features.items())}}


def config_digest(config: RolloutConfig) -> str:
    """SHA-256 (hex) of the canonical JSON of :func:`routing_document`."""
    return hashlib.sha256(canonical_json(routing_document(config)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ManualEdit:
    """The stored config differs from the one the audit entry ``seq`` recorded."""

    seq: int
    recorded: str
    current: str

    def describe(self, location: str) -> str:
        """One sentence naming the config and the entry it no longer matches."""
        return (
            f"The rollout config {location} no longer matches its audit chain: it was edited outside "
            f"stagewise after audit entry seq {self.seq} (config_sha256 recorded {self.recorded[:12]}…, "
            f"now {self.current[:12]}…)"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"seq": self.seq, "recorded_sha256": self.recorded, "current_sha256": self.current}


def detect_manual_edit(config: RolloutConfig) -> ManualEdit | None:
    """A :class:`ManualEdit` when the config differs from what its last audited write left, else None.

    Reads only the config (its ``audit_tail`` holds the last write's entries). None as
    well when that entry is of format 1 (no digest): such a config cannot be judged.
    """
    if not config.audit_tail:
        return None
    last = config.audit_tail[-1]
    recorded = last.get(CONFIG_HASH_KEY)
    if not isinstance(recorded, str):
        return None
    current = config_digest(config)
    if current == recorded:
        return None
    seq = last.get("seq")
    return ManualEdit(seq if isinstance(seq, int) else 0, recorded, current)


def check_config_digest(
    report: AuditReport, entries: Sequence[Mapping[str, Any]], config: RolloutConfig, location: str
) -> None:
    """Add a problem to ``report`` when the config differs from the digest of the log's last entry.

    When the last entry is of format 1 a note says what the log cannot prove.
    """
    if not entries:
        return
    last = entries[-1]
    recorded = last.get(CONFIG_HASH_KEY)
    if not isinstance(recorded, str):
        report.notes.append(
            f"the last audit entry (seq {last.get('seq')}) is of entry format 1 (written before "
            "config hashes): only stages are checked against it; a hand edit of a salt, hash mode, "
            "variants or an added feature cannot be detected until the next write records a config hash"
        )
        return
    current = config_digest(config)
    if current != recorded:
        edit = ManualEdit(int(last.get("seq", 0)), recorded, current)
        report.problems.append(edit.describe(location))
        report.ok = False
