"""Item 13: an invalid last line in ``rollout_audit.jsonl`` never blocks the kill switch.

The kill moves the unreadable tail to ``rollout_audit.jsonl.quarantine`` (nothing is lost) and
records that in the chain; other writes refuse, naming the file and the line, unless they
acknowledge it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stagewise import ConfigError
from stagewise.cli.main import app
from stagewise.rollout import GradualRollout

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BAD_TAILS = {
    "garbage": b"garbage\n",
    "cut-json": b'{"seq": 4, "hash": "ab\n',
    "json-not-an-entry": b'{"hello": "world"}\n',
    "two-bad-lines": b"oops\n[1, 2]\n",
    "invalid-utf8": b"\xff\xfe\n",
}


def _setup(tmp_path: Path, tail: bytes) -> tuple[Path, Path]:
    config = tmp_path / "config" / "rollout_config.json"
    rollout = GradualRollout(config, now=lambda: NOW, actor="ops")
    rollout.add_feature("challenger_model", "50%", reason="canary")
    rollout.update_rollout_stage("challenger_model", "100%", reason="healthy")
    log = config.parent / "rollout_audit.jsonl"
    with open(log, "ab") as fh:
        fh.write(tail)
    return config, log


@pytest.mark.parametrize("name", sorted(BAD_TAILS))
def test_a_kill_succeeds_quarantines_the_tail_and_is_recorded(tmp_path: Path, name: str) -> None:
    tail = BAD_TAILS[name]
    config, log = _setup(tmp_path, tail)
    rollout = GradualRollout(config, now=lambda: NOW, actor="ops")
    assert rollout.kill("challenger_model", reason="incident") == ["challenger_model"]
    assert not rollout.should_enable_feature("challenger_model", "r1")
    quarantine = log.with_name("rollout_audit.jsonl.quarantine")
    assert quarantine.read_bytes() == tail
    entries = rollout.audit_log()
    moved, kill = entries[-2], entries[-1]
    assert moved["action"] == "quarantine_audit_tail"
    assert moved["details"] == {
        "quarantine_file": "rollout_audit.jsonl.quarantine",
        "first_line": 3,
        "lines": tail.count(b"\n"),
        "bytes": len(tail),
        "sha256": hashlib.sha256(tail).hexdigest(),
    }
    assert moved["actor"] == "ops"
    assert moved["reason"] == "incident"
    assert (kill["action"], kill["old_stage"], kill["new_stage"]) == ("kill", "100%", "disabled")
    report = rollout.verify_audit()
    assert report.ok, report.problems


def test_other_writes_refuse_naming_the_file_and_line_and_store_nothing(tmp_path: Path) -> None:
    config, log = _setup(tmp_path, b"garbage\n")
    before = config.read_bytes(), log.read_bytes()
    rollout = GradualRollout(config, now=lambda: NOW, actor="ops")
    with pytest.raises(ConfigError) as info:
        rollout.update_rollout_stage("challenger_model", "50%", reason="step back")
    message = str(info.value)
    assert f"{log} line 3" in message
    assert "kill switch still works" in message
    assert "--accept-manual-edit" in message
    assert (config.read_bytes(), log.read_bytes()) == before


def test_an_acknowledged_write_quarantines_the_tail_too(tmp_path: Path) -> None:
    config, log = _setup(tmp_path, b"garbage\n")
    rollout = GradualRollout(config, now=lambda: NOW, actor="ops")
    rollout.update_rollout_stage("challenger_model", "50%", reason="cut a bad line", accept_manual_edit=True)
    assert [e["action"] for e in rollout.audit_log()][-2:] == ["quarantine_audit_tail", "set_stage"]
    assert log.with_name("rollout_audit.jsonl.quarantine").read_bytes() == b"garbage\n"
    assert rollout.verify_audit().ok


def test_a_corrupted_copy_of_the_last_entry_is_restored_from_the_config(tmp_path: Path) -> None:
    config, log = _setup(tmp_path, b"")
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-1]) + lines[-1].replace(b'"seq"', b'"se\x00q"'))
    rollout = GradualRollout(config, now=lambda: NOW, actor="ops")
    rollout.kill("challenger_model", reason="incident")
    # the config kept the last write's entries: the lost entry is appended again before the kill
    assert [e["seq"] for e in rollout.audit_log()] == [1, 2, 3, 4]
    assert [e["action"] for e in rollout.audit_log()] == ["add_feature", "set_stage", "quarantine_audit_tail",
                                                          "kill"]  # fmt: skip
    assert rollout.verify_audit().ok


def test_the_cli_kill_works_and_says_nothing_alarming(tmp_path: Path) -> None:
    config, _log = _setup(tmp_path, b"garbage\n")
    runner = CliRunner()
    result = runner.invoke(app, ["rollout", "kill", "challenger_model", "--reason", "incident",
                                 "--config", str(config)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "killed: challenger_model" in result.output
    document = json.loads(config.read_text(encoding="utf-8"))
    assert document["feature_rollouts"]["challenger_model"]["stage"] == "disabled"
    refused = runner.invoke(app, ["rollout", "set", "challenger_model", "10%", "--reason", "again",
                                  "--config", str(config)])  # fmt: skip
    assert refused.exit_code == 0, refused.output  # the tail was quarantined by the kill
