"""The hash-chained audit log of rollout changes (pure: entries in, verdicts out).

Every change (stage set, feature added, kill switch, controller decision) is one
entry::

    {"seq": 7, "at": "2026-11-22T08:00:00+00:00", "actor": "ops@host", "reason": "...",
     "action": "set_stage", "feature": "f", "old_stage": "10%", "new_stage": "50%",
     "details": {...}, "prev_hash": "<hash of entry 6>", "hash": "<sha256>"}

``hash`` is the SHA-256 (hex) of the canonical JSON of the entry without ``hash``
(keys sorted, no spaces, UTF-8), and ``prev_hash`` is the previous entry's hash
(64 zeros for the first). Editing an entry changes its hash; deleting or
reordering entries breaks the ``prev_hash`` links or the ``seq`` run. Deleting
entries from the end is caught by comparing with the head that the store keeps
beside the config (see :func:`verify_chain`'s ``expected_head``).

Examples
--------
>>> first = seal({"action": "add_feature", "feature": "f"}, seq=1, prev_hash=GENESIS)
>>> second = seal({"action": "set_stage", "feature": "f"}, seq=2, prev_hash=first["hash"])
>>> verify_chain([first, second]).ok
True
>>> verify_chain([second, first]).ok
False
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GENESIS", "AuditReport", "canonical_json", "entry_hash", "seal", "verify_chain"]

GENESIS = "0" * 64
"""``prev_hash`` of the first entry."""


def canonical_json(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, non-ASCII kept as UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``entry`` without its ``hash`` key."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def seal(record: Mapping[str, Any], *, seq: int, prev_hash: str) -> dict[str, Any]:
    """The record as chain entry ``seq``, linked to ``prev_hash`` and hashed."""
    entry = {**record, "seq": seq, "prev_hash": prev_hash}
    entry["hash"] = entry_hash(entry)
    return entry


@dataclass
class AuditReport:
    """Result of checking an audit log.

    ``ok`` is False as soon as one problem is found; ``problems`` says where and what
    (line numbers are 1-based). ``notes`` holds facts that are not tampering, such as
    entries of an interrupted write that the next write will append.
    """

    ok: bool
    entries: int
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "problems": list(self.problems),
            "notes": list(self.notes),
        }


def verify_chain(
    entries: Sequence[Mapping[str, Any] | str],
    *,
    expected_head: Mapping[str, Any] | None = None,
) -> AuditReport:
    """Check that ``entries`` form one unbroken, unedited chain from the genesis.

    Parameters
    ----------
    entries : sequence of dict or str
        Entries in log order; a ``str`` is a raw JSON line, parsed here, so that a
        line that is not JSON is reported rather than raised.
    expected_head : dict, optional
        The last entry as recorded by the store outside the log (``seq`` and
        ``hash``). A log that ends earlier has lost its last entries.
    """
    problems: list[str] = []
    prev_hash, prev_seq = GENESIS, 0
    count = 0
    for line_no, raw in enumerate(entries, start=1):
        entry: Any = raw
        if isinstance(raw, str):
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(f"line {line_no}: not valid JSON ({exc.msg}); the entry was edited or cut")
                break
        if not isinstance(entry, Mapping):
            problems.append(f"line {line_no}: not a JSON object")
            break
        count += 1
        seq = entry.get("seq")
        if entry.get("hash") != entry_hash(entry):
            problems.append(f"line {line_no} (seq {seq}): hash mismatch; the entry was edited")
        if entry.get("prev_hash") != prev_hash:
            problems.append(
                f"line {line_no} (seq {seq}): prev_hash does not match the previous entry; "
                "entries were deleted, inserted or reordered before it"
            )
        if seq != prev_seq + 1:
            problems.append(f"line {line_no}: seq {seq!r} follows seq {prev_seq}; expected {prev_seq + 1}")
        if problems:
            break
        prev_hash, prev_seq = str(entry["hash"]), prev_seq + 1
    report = AuditReport(
        ok=not problems, entries=count, head_seq=prev_seq, head_hash=prev_hash, problems=problems
    )
    if not problems and expected_head is not None:
        want_seq, want_hash = expected_head.get("seq"), expected_head.get("hash")
        if isinstance(want_seq, int) and want_seq > prev_seq:
            report.problems.append(
                f"the log ends at seq {prev_seq} but the store's recorded head is seq {want_seq}: "
                "entries were deleted from the end of the log"
            )
        elif want_seq == prev_seq and want_hash != prev_hash:
            report.problems.append(f"the last entry (seq {prev_seq}) differs from the store's recorded head")
        report.ok = not report.problems
    return report
