"""The audit chain guards the whole config: hand edits of any routing field are found and refused.

Item 11: ``verify_audit`` covers every key of every feature (a config hash in each entry), and
logs written before config hashes still verify as far as they can. Item 12: a hand-edited
config is reported on read and refused by every write except the kill switch unless the write
acknowledges it, which is audited.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stagewise import ConfigError
from stagewise.rollout import FileRolloutStore, GradualRollout, MemoryRolloutStore
from stagewise.rollout.audit import GENESIS, canonical_json, seal
from stagewise.rollout.integrity import config_digest, detect_manual_edit
from stagewise.rollout.sql_store import SqlRolloutStore

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _rollout(path: Path) -> GradualRollout:
    rollout = GradualRollout(path, now=lambda: NOW, actor="ops", refresh_interval=0)
    rollout.add_feature("challenger_model", "10%", reason="canary")
    rollout.add_feature("calibration", "50%", salt="calib:1", reason="start")
    rollout.set_variants("calibration", {"iso": 0.5, "platt": 0.5}, reason="compare")
    return rollout


def _edit(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    edit(document["feature_rollouts"])
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "stage": lambda f: f["challenger_model"].update(stage="50%"),
    "salt": lambda f: f["challenger_model"].update(salt="reshuffled"),
    "hash-mode": lambda f: f["challenger_model"].update(hash_mode="legacy-md5"),
    "variants": lambda f: f["calibration"].update(variants={"iso": 0.9, "platt": 0.1}),
    "variants-added": lambda f: f["challenger_model"].update(variants={"a": 0.5, "b": 0.5}),
    "feature-added-at-100%": lambda f: f.update(sneaky={"stage": "100%", "enabled_at": "2026-12-01"}),
    "feature-removed": lambda f: f.pop("calibration"),
    "kill-mark-removed": lambda f: f["challenger_model"].update(killed=None),
    "enabled_at": lambda f: f["challenger_model"].update(enabled_at="2020-01-01"),
    "unknown-key": lambda f: f["challenger_model"].update(owner="someone"),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_verify_finds_a_hand_edit_of_any_routing_field(tmp_path: Path, name: str) -> None:
    config = tmp_path / "rollout_config.json"
    rollout = _rollout(config)
    if name == "kill-mark-removed":
        rollout.kill("challenger_model", reason="incident")
    assert rollout.verify_audit().ok
    _edit(config, EDITS[name])
    report = GradualRollout(config).verify_audit()
    assert not report.ok
    assert any("edited outside stagewise" in p for p in report.problems), report.problems
    assert any(str(config) in p for p in report.problems)


def test_every_entry_records_the_digest_of_the_config_it_left(tmp_path: Path) -> None:
    config = tmp_path / "rollout_config.json"
    rollout = _rollout(config)
    entries = rollout.audit_log()
    assert {e["entry_format"] for e in entries} == {2}
    assert entries[-1]["config_sha256"] == config_digest(rollout.store.read())
    assert entries[0]["config_sha256"] != entries[-1]["config_sha256"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(salt=st.text(min_size=1, max_size=30))
def test_any_other_salt_is_a_detected_edit(tmp_path_factory: pytest.TempPathFactory, salt: str) -> None:
    config = tmp_path_factory.mktemp("salt") / "rollout_config.json"
    rollout = GradualRollout(config, now=lambda: NOW, actor="ops")
    rollout.add_feature("f", "10%", salt="original", reason="start")
    _edit(config, lambda f: f["f"].update(salt=salt))
    reread = GradualRollout(config)
    assert (reread.manual_edit() is None) == (salt == "original")
    assert reread.verify_audit().ok == (salt == "original")


def _format1_log(config: Path, stages: list[str]) -> None:
    """A config and audit log as stagewise wrote them before config hashes (entry format 1)."""
    entries, prev = [], GENESIS
    for seq, (old, new) in enumerate(zip([None, *stages], stages, strict=False), start=1):
        record = {
            "at": NOW.isoformat(), "actor": "ops", "reason": "old release", "feature": "f",
            "action": "add_feature" if old is None else "set_stage", "old_stage": old, "new_stage": new,
        }  # fmt: skip
        entry = seal(record, seq=seq, prev_hash=prev)
        entries.append(entry)
        prev = entry["hash"]
    config.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "format_version": 1,
        "feature_rollouts": {
            "f": {"stage": stages[-1], "enabled_at": "2026-11-01", "hash_mode": "blake2b-64", "salt": "f"}
        },
        "updated_at": "2026-12-01 09:00:00",
        "audit_tail": entries[-1:],
    }
    config.write_text(json.dumps(document), encoding="utf-8")
    (config.parent / "rollout_audit.jsonl").write_text(
        "".join(canonical_json(e) + "\n" for e in entries), encoding="utf-8"
    )


def test_an_old_log_without_config_hashes_verifies_and_says_what_it_cannot_prove(tmp_path: Path) -> None:
    config = tmp_path / "rollout_config.json"
    _format1_log(config, ["10%", "50%"])
    report = GradualRollout(config).verify_audit()
    assert report.ok, report.problems
    assert any("entry format 1" in n and "salt" in n for n in report.notes)
    # stages are still checked against an old log
    _edit(config, lambda f: f["f"].update(stage="100%"))
    report = GradualRollout(config).verify_audit()
    assert not report.ok
    assert any("'100%'" in p and "'50%'" in p for p in report.problems)


def test_the_first_write_on_an_old_log_starts_covering_the_whole_config(tmp_path: Path) -> None:
    config = tmp_path / "rollout_config.json"
    _format1_log(config, ["10%"])
    rollout = GradualRollout(config, now=lambda: NOW, actor="ops")
    rollout.update_rollout_stage("f", "50%", reason="healthy")
    assert rollout.verify_audit().ok
    assert rollout.verify_audit().notes == []
    _edit(config, lambda f: f["f"].update(salt="moved"))
    assert not GradualRollout(config).verify_audit().ok


# ------------------------------------------------------------------------------ item 12: writes
def test_a_write_on_a_hand_edited_config_refuses_and_stores_nothing(tmp_path: Path) -> None:
    config = tmp_path / "rollout_config.json"
    _rollout(config)
    _edit(config, EDITS["salt"])
    before = config.read_bytes(), (tmp_path / "rollout_audit.jsonl").read_bytes()
    rollout = GradualRollout(config, now=lambda: NOW, actor="ops")
    edit = rollout.manual_edit()
    assert edit is not None
    assert edit.seq == 3
    with pytest.raises(ConfigError, match="--accept-manual-edit") as info:
        rollout.update_rollout_stage("challenger_model", "50%", reason="healthy")
    assert str(config) in str(info.value)
    assert "edited outside stagewise after audit entry seq 3" in str(info.value)
    for write in (
        lambda: rollout.add_feature("other", reason="x"),
        lambda: rollout.set_variants("calibration", None, reason="x"),
        lambda: rollout.record_audit("calibration", "note", reason="x"),
    ):
        with pytest.raises(ConfigError, match="accept_manual_edit=True"):
            write()
    assert (config.read_bytes(), (tmp_path / "rollout_audit.jsonl").read_bytes()) == before


def test_an_acknowledged_write_keeps_the_edit_and_audits_it(tmp_path: Path) -> None:
    config = tmp_path / "rollout_config.json"
    _rollout(config)
    _edit(config, EDITS["stage"])  # a stage edit, so the stage replay must accept it too
    rollout = GradualRollout(config, now=lambda: NOW, actor="ops")
    with pytest.raises(ConfigError, match="non-empty 'reason'"):
        rollout.update_rollout_stage("calibration", "100%", accept_manual_edit=True, reason="  ")
    rollout.update_rollout_stage(
        "calibration", "100%", reason="on-call moved challenger_model to 50% by hand", accept_manual_edit=True
    )
    entries = rollout.audit_log()
    ack = entries[-2]
    assert ack["action"] == "accept_manual_edit"
    assert ack["actor"] == "ops"
    assert ack["reason"] == "on-call moved challenger_model to 50% by hand"
    assert ack["details"]["accepted"]["feature_rollouts"]["challenger_model"]["stage"] == "50%"
    assert ack["details"]["recorded_sha256"] != ack["details"]["current_sha256"]
    assert entries[-1]["new_stage"] == "100%"
    assert rollout.manual_edit() is None
    assert rollout.feature("challenger_model").stage.name == "50%"  # the edit was kept
    report = rollout.verify_audit()
    assert report.ok, report.problems


def test_the_kill_switch_needs_no_acknowledgement_and_records_the_edit(tmp_path: Path) -> None:
    config = tmp_path / "rollout_config.json"
    _rollout(config)
    _edit(config, EDITS["feature-added-at-100%"])
    rollout = GradualRollout(config, now=lambda: NOW, actor="ops")
    assert rollout.kill("*", reason="incident") == ["challenger_model", "calibration", "sneaky"]
    entries = rollout.audit_log()
    found = [e for e in entries if e["action"] == "manual_edit_found_by_kill"]
    assert len(found) == 1
    assert "sneaky" in found[0]["details"]["accepted"]["feature_rollouts"]
    assert rollout.verify_audit().ok
    assert not rollout.should_enable_feature("sneaky", "r1")


def test_the_memory_store_guards_the_same_way() -> None:
    store = MemoryRolloutStore()
    rollout = GradualRollout(store=store, now=lambda: NOW, actor="ops")
    rollout.add_feature("f", "10%", reason="start")
    feature = store.read().features["f"]
    store._config = store.read().with_feature(replace(feature, salt="moved"))
    assert detect_manual_edit(store.read()) is not None
    with pytest.raises(ConfigError, match="no longer matches its audit chain"):
        rollout.update_rollout_stage("f", "50%", reason="x")
    assert not rollout.verify_audit().ok


def test_a_row_changed_in_the_sql_tables_is_a_manual_edit(tmp_path: Path) -> None:
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'rollout.db'}"
    rollout = GradualRollout(url, now=lambda: NOW, actor="ops")
    rollout.add_feature("f", "10%", reason="start")
    store = rollout.store
    assert isinstance(store, SqlRolloutStore)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE rollout_features SET salt = 'moved' WHERE name = 'f'"))
        conn.execute(text("UPDATE rollout_state SET version = version + 1"))
    rollout.refresh(force=True)
    assert rollout.manual_edit() is not None
    assert not rollout.verify_audit().ok
    with pytest.raises(ConfigError, match="--accept-manual-edit"):
        rollout.update_rollout_stage("f", "50%", reason="x")
    rollout.update_rollout_stage("f", "50%", reason="salt moved on purpose", accept_manual_edit=True)
    assert rollout.verify_audit().ok
    rollout.close()


def test_importing_a_config_into_sql_is_audited_not_a_manual_edit(tmp_path: Path) -> None:
    source = tmp_path / "rollout_config.json"
    _rollout(source)
    store = SqlRolloutStore(f"sqlite:///{tmp_path / 'rollout.db'}")
    store.import_config(FileRolloutStore(source).read(), actor="ops")
    assert detect_manual_edit(store.read()) is None
    assert [e["action"] for e in store.audit_entries()] == ["import_feature", "import_feature"]
    assert store.verify_audit().ok
    store.close()
