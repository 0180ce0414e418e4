"""Rollout config in a JSON file (the seed's ``config/rollout_config.json``) with a JSONL audit log.

Crash safety, in the order a write happens under an exclusive file lock
(``<config>.lock``, released by the kernel if the writer dies):

1. read and validate the current file; finish the audit append of an interrupted
   earlier write (its entries are kept in the config's ``audit_tail``), dropping a
   half-written last line;
2. build the new config; write it to a temporary file in the same directory,
   ``fsync``, ``os.replace`` over the config, ``fsync`` the directory. This rename is
   the commit point: readers see the old or the new file, never a mix;
3. append the audit entries to the log (one ``write`` per entry, ``fsync``).

A change acknowledged to the caller has passed step 2, so it survives a SIGKILL.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from stagewise._atomic import write_file_atomic
from stagewise._exceptions import ConfigError, StorageError
from stagewise._output import make_parent_dirs
from stagewise.rollout.audit import GENESIS, AuditReport, canonical_json, verify_chain
from stagewise.rollout.config import RolloutConfig, parse_config
from stagewise.rollout.store import Change, check_replay, seal_records

__all__ = ["FileRolloutStore", "default_audit_path"]


def default_audit_path(config_path: Path) -> Path:
    """``config/rollout_config.json`` -> ``config/rollout_audit.jsonl`` (else ``<stem>.audit.jsonl``)."""
    stem = config_path.stem
    name = stem.replace("config", "audit") if "config" in stem else f"{stem}.audit"
    return config_path.with_name(name + ".jsonl")


class FileRolloutStore:
    """The rollout config as a JSON file plus a hash-chained JSON-lines audit log.

    Parameters
    ----------
    config_path : str or Path
        The config file; it need not exist yet (created on the first write).
    audit_path : str or Path, optional
        The audit log; by default ``rollout_audit.jsonl`` beside the config.
    lock_timeout : float
        Seconds to wait for another writer before raising :class:`StorageError`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rollout_config.json"
    >>> store = FileRolloutStore(path)
    >>> store.read().features
    {}
    >>> store.audit_path.name
    'rollout_audit.jsonl'
    """

    def __init__(
        self, config_path: str | Path, audit_path: str | Path | None = None, lock_timeout: float = 30.0
    ):
        self.config_path = Path(config_path)
        self.audit_path = Path(audit_path) if audit_path is not None else default_audit_path(self.config_path)
        self.location = str(self.config_path)
        self._lock = FileLock(str(self.config_path) + ".lock", timeout=lock_timeout)

    # -- reading ---------------------------------------------------------------------------
    def version_token(self) -> Hashable:
        try:
            st = os.stat(self.config_path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"Cannot stat the rollout config {self.location}: {exc}") from exc
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def read(self) -> RolloutConfig:
        try:
            raw = self.config_path.read_bytes()
        except FileNotFoundError:
            return RolloutConfig()
        except OSError as exc:
            raise StorageError(f"Cannot read the rollout config {self.location}: {exc}") from exc
        try:
            document = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"The rollout config {self.location} is not UTF-8 text: {exc}.") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"The rollout config {self.location} is not valid JSON: {exc.msg} at line {exc.lineno} "
                f"column {exc.colno}. Accepted: the JSON object described in docs/rollout.md."
            ) from None
        return parse_config(document, source=self.location)

    def audit_entries(self) -> list[dict[str, Any]]:
        entries = []
        for line_no, line in enumerate(self._audit_lines(), start=1):
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                raise ConfigError(
                    f"The audit log {self.audit_path} line {line_no} is not JSON; run "
                    "`stagewise rollout audit --verify` for details."
                ) from None
        return entries

    def _audit_lines(self) -> list[str]:
        complete, _ = self._split_audit()
        return complete

    def _split_audit(self) -> tuple[list[str], str]:
        """Complete lines of the audit log, and a half-written last line ('' if none)."""
        try:
            data = self.audit_path.read_bytes()
        except FileNotFoundError:
            return [], ""
        lines = data.decode("utf-8", errors="replace").split("\n")
        return lines[:-1], lines[-1]

    def verify_audit(self) -> AuditReport:
        with self._locked():
            config = self.read()
            lines, partial = self._split_audit()
        report = verify_chain(lines)
        if partial and report.ok:
            report.notes.append(
                "the last line is half-written (a writer died mid-append); the next write drops it"
            )
        entries = [json.loads(line) for line in lines] if report.ok else []
        if report.ok and config.audit_tail:
            head = config.audit_tail[-1]
            pending = [e for e in config.audit_tail if e.get("seq", 0) > report.head_seq]
            if pending and _continues(pending, report.head_seq, report.head_hash):
                report.notes.append(
                    f"{len(pending)} audit entries of an interrupted write are kept in the config "
                    "and will be appended by the next write"
                )
                report.head_seq, report.head_hash = int(head["seq"]), str(head["hash"])
                entries.extend(pending)
            else:
                report.problems.extend(verify_chain(lines, expected_head=head).problems)
                report.ok = not report.problems
        if report.ok:
            check_replay(report, entries, config, self.location)
        return report

    # -- writing ---------------------------------------------------------------------------
    def update(self, change: Change, *, repair: Mapping[str, Any] | None = None) -> RolloutConfig:
        with self._locked():
            current = self.read()
            head_seq, head_hash, quarantined = self._complete_audit(current, repair)
            new, records = change(current)
            records = quarantined + records
            if not records and new == current:
                return current  # nothing changed: leave the file (and its readers) alone
            sealed = seal_records(records, head_seq, head_hash, new)
            new = replace(new, audit_tail=sealed or current.audit_tail)
            self._write_config(new)
            self._append_audit(sealed)
            return new

    def create_if_missing(self, change: Change) -> bool:
        """Apply ``change`` only if the config file does not exist yet; True if this call created it.

        The check runs under the writers' lock, so of several processes opening the same
        missing config at once exactly one creates it.
        """
        with self._locked():
            if self.config_path.exists():
                return False
        created = False

        def guarded(config: RolloutConfig) -> tuple[RolloutConfig, list[dict[str, Any]]]:
            nonlocal created
            if self.config_path.exists():
                return config, []
            created = True
            return change(config)

        self.update(guarded)
        return created

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            make_parent_dirs(self.config_path)
            self._lock.acquire()
        except Timeout:
            raise StorageError(
                f"Another process has held the rollout config lock {self._lock.lock_file} for more than "
                f"{self._lock.timeout} s; retry, or raise lock_timeout."
            ) from None
        except OSError as exc:
            raise StorageError(f"Cannot lock the rollout config {self.location}: {exc}") from exc
        try:
            yield
        finally:
            self._lock.release()

    def _complete_audit(
        self, current: RolloutConfig, repair: Mapping[str, Any] | None
    ) -> tuple[int, str, list[dict[str, Any]]]:
        """Drop a half-written last line, deal with an unreadable tail, append what an interrupted write left.

        Returns the head (seq, hash) to chain after and, when ``repair`` moved an unreadable tail
        aside, the audit record saying so.
        """
        head_seq, head_hash = 0, GENESIS
        quarantined: list[dict[str, Any]] = []
        if self.audit_path.exists():
            last, complete_end, size = _last_line(self.audit_path)
            if complete_end != size:  # a half-written last line: the writer died mid-append
                with open(self.audit_path, "r+b") as fh:
                    fh.truncate(complete_end)
                    os.fsync(fh.fileno())
            head = _entry_head(last) if last else (0, GENESIS)
            if head is None:
                if repair is None:
                    line_no = _count_lines(self.audit_path)
                    raise ConfigError(
                        f"The audit log {self.audit_path} line {line_no} (its last line) is not an audit "
                        "entry, so this change cannot be chained to it. The kill switch still works "
                        f"(it moves the line to {self.quarantine_path.name} and records that). For any "
                        "other change, look at it with `stagewise rollout audit --verify`, then repeat "
                        "the change with --accept-manual-edit --reason '...' "
                        "(API: accept_manual_edit=True) to move it aside."
                    )
                head, record = self._quarantine_tail(repair)
                quarantined.append(record)
            head_seq, head_hash = head
        pending = [e for e in current.audit_tail if int(e.get("seq", 0)) > head_seq]
        if pending and _continues(pending, head_seq, head_hash):
            self._append_audit(pending)
            head_seq, head_hash = int(pending[-1]["seq"]), str(pending[-1]["hash"])
        return head_seq, head_hash, quarantined

    @property
    def quarantine_path(self) -> Path:
        """Where unreadable lines cut from the end of the audit log are kept (``<log>.quarantine``)."""
        return self.audit_path.with_name(self.audit_path.name + ".quarantine")

    def _quarantine_tail(self, repair: Mapping[str, Any]) -> tuple[tuple[int, str], dict[str, Any]]:
        """Move the trailing lines that are not audit entries to :attr:`quarantine_path`; nothing is lost.

        The side file is written and synced before the log is cut, so a crash in between leaves the
        lines in both places rather than in neither.
        """
        data = self.audit_path.read_bytes()
        lines = data.split(b"\n")[:-1]  # the file ends with a newline (a torn last line was dropped)
        keep = len(lines)
        while keep > 0 and _entry_head(lines[keep - 1]) is None:
            keep -= 1
        cut = sum(len(line) + 1 for line in lines[:keep])
        bad = data[cut:]
        fd = os.open(self.quarantine_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, bad)
            os.fsync(fd)
        finally:
            os.close(fd)
        with open(self.audit_path, "r+b") as fh:
            fh.truncate(cut)
            os.fsync(fh.fileno())
        head = _entry_head(lines[keep - 1]) if keep else (0, GENESIS)
        assert head is not None
        record = {
            **repair,
            "action": "quarantine_audit_tail",
            "feature": "*",
            "old_stage": None,
            "new_stage": None,
            "details": {
                "quarantine_file": self.quarantine_path.name,
                "first_line": keep + 1,
                "lines": len(lines) - keep,
                "bytes": len(bad),
                "sha256": hashlib.sha256(bad).hexdigest(),
            },
        }
        return head, record

    def _write_config(self, config: RolloutConfig) -> None:
        directory = self.config_path.parent
        for stale in directory.glob(f".{self.config_path.name}.*.tmp"):
            stale.unlink(missing_ok=True)  # left by a writer killed between write and rename
        text = json.dumps(config.to_document(), ensure_ascii=False, indent=2) + "\n"
        try:
            write_file_atomic(self.config_path, text.encode("utf-8"))
        except OSError as exc:
            raise StorageError(f"Cannot write the rollout config {self.location}: {exc}") from exc

    def _append_audit(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        fd = os.open(self.audit_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for entry in entries:
                os.write(fd, (canonical_json(entry) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)


def _last_line(path: Path, chunk: int = 65_536) -> tuple[bytes, int, int]:
    """(last complete line, offset just after its newline, file size), reading only the end of the file."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        start, tail = size, b""
        while start > 0:
            start = max(0, start - chunk)
            fh.seek(start)
            tail = fh.read(size - start)
            if tail.count(b"\n") >= 2:  # the newline ending the last line, and the one before it
                break
    end = tail.rfind(b"\n") + 1
    if end == 0:
        return b"", 0, size  # no complete line at all
    body = tail[: end - 1]
    return body[body.rfind(b"\n") + 1 :], start + end, size


def _entry_head(line: bytes) -> tuple[int, str] | None:
    """(seq, hash) of a log line that is an audit entry; None for anything else."""
    try:
        entry = json.loads(line)
        seq, digest = entry["seq"], entry["hash"]
    except (ValueError, KeyError, TypeError):
        return None
    if type(seq) is not int or type(digest) is not str:
        return None
    return seq, digest


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def _continues(pending: list[dict[str, Any]], head_seq: int, head_hash: str) -> bool:
    return pending[0].get("seq") == head_seq + 1 and pending[0].get("prev_hash") == head_hash
