"""The seed's rollout script runs unchanged: a default config, and unknown features read as off."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stagewise import NotFoundError
from stagewise.rollout import SEED_FEATURES, GradualRollout, MemoryRolloutStore

NOW = datetime(2025, 12, 3, 9, 30, tzinfo=UTC)


def test_an_empty_directory_gets_the_seeds_default_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rollout = GradualRollout(now=lambda: NOW, refresh_interval=0)  # the seed's call, nothing else
    assert rollout.should_enable_feature("probability_calibration", 12345) is False
    assert rollout.should_enable_feature("dynamic_integration", 12345) is True
    assert rollout.should_enable_feature("entry_prediction_model", 12345) is True
    document = json.loads(Path("config/rollout_config.json").read_text(encoding="utf-8"))
    stored = {
        name: (f["stage"], f["enabled_at"], f["hash_mode"])
        for name, f in document["feature_rollouts"].items()
    }
    assert stored == {
        "dynamic_integration": ("100%", "2025-11-01", "legacy-md5"),
        "entry_prediction_model": ("100%", "2025-11-15", "legacy-md5"),
        "probability_calibration": ("disabled", None, "legacy-md5"),
    }
    assert document["updated_at"] == "2025-12-03 09:30:00"
    audit = rollout.audit_log()
    assert [(e["action"], e["feature"], e["new_stage"]) for e in audit] == [
        ("add_feature", name, stage) for name, stage in SEED_FEATURES.items()
    ]
    assert {e["actor"] for e in audit} == {"stagewise"}
    assert all("default" in e["reason"] for e in audit)
    assert rollout.verify_audit().ok
    # The seed's next steps: 10 % gives the seed's 13 races of 100.
    rollout.update_rollout_stage("probability_calibration", "10%")
    assert sum(rollout.should_enable_feature("probability_calibration", i) for i in range(100)) == 13
    assert not list(Path("config").glob("*.tmp"))  # written atomically: no temporary file left


def test_an_existing_config_is_never_replaced_by_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "rollout_config.json"
    first = GradualRollout(path, now=lambda: NOW, refresh_interval=0, create_defaults=True)
    first.update_rollout_stage("dynamic_integration", "disabled", reason="turned off")
    before = path.read_bytes()
    again = GradualRollout(path, now=lambda: NOW, refresh_interval=0, create_defaults=True)
    assert again.feature("dynamic_integration").stage.name == "disabled"
    assert path.read_bytes() == before
    assert len(again.audit_log()) == 4


def test_concurrent_first_opens_create_the_defaults_once(tmp_path: Path) -> None:
    path = tmp_path / "config" / "rollout_config.json"
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            GradualRollout(path, now=lambda: NOW, refresh_interval=0, create_defaults=True).close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rollout = GradualRollout(path, refresh_interval=0)
    assert len(rollout.audit_log()) == 3
    assert rollout.verify_audit().ok


def test_a_config_you_name_starts_empty_and_is_not_written_by_opening_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "nowhere" / "rollout_config.json"
    rollout = GradualRollout(path, refresh_interval=0)
    assert rollout.get_rollout_status()["feature_rollouts"] == {}
    assert not path.parent.exists()
    monkeypatch.chdir(tmp_path)
    GradualRollout(refresh_interval=0, create_defaults=False)  # the seed's path, defaults declined
    assert not (tmp_path / "config").exists()


def test_an_unknown_feature_reads_as_off_and_warns_once_per_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rollout = GradualRollout(tmp_path / "c.json", now=lambda: NOW, refresh_interval=0, create_defaults=True)
    missing, other = f"not_there_{uuid.uuid4().hex}", f"other_{uuid.uuid4().hex}"  # unseen in this process
    with caplog.at_level(logging.WARNING, logger="stagewise.rollout"):
        assert [rollout.should_enable_feature(missing, i) for i in range(50)] == [False] * 50
        assert rollout.should_enable_feature(other, "r1") is False
        assert GradualRollout(store=MemoryRolloutStore()).should_enable_feature(missing, 1) is False
    warnings = [r.getMessage() for r in caplog.records if "unknown rollout feature" in r.getMessage()]
    assert len(warnings) == 2, warnings  # once per name per process, not once per call or per instance
    assert repr(missing) in warnings[0]
    assert "dynamic_integration" in warnings[0]
    assert repr(other) in warnings[1]


def test_writes_to_an_unknown_feature_still_raise_and_name_add_feature(tmp_path: Path) -> None:
    rollout = GradualRollout(tmp_path / "c.json", now=lambda: NOW, refresh_interval=0, create_defaults=True)
    before = (tmp_path / "c.json").read_bytes()
    with pytest.raises(NotFoundError, match=r"add_feature\('nope'"):
        rollout.update_rollout_stage("nope", "10%")
    for call in (
        lambda: rollout.kill("nope", reason="x"),
        lambda: rollout.set_variants("nope", {"a": 0.5, "b": 0.5}),
        lambda: rollout.enabled_many("nope", [1, 2]),
    ):
        with pytest.raises(NotFoundError, match="'nope'"):
            call()
    assert (tmp_path / "c.json").read_bytes() == before


def test_the_openfeature_provider_answers_the_default_with_flag_not_found(tmp_path: Path) -> None:
    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.exception import ErrorCode

    from stagewise.rollout.openfeature import RolloutProvider

    rollout = GradualRollout(tmp_path / "c.json", now=lambda: NOW, refresh_interval=0, create_defaults=True)
    api.set_provider(RolloutProvider(rollout))
    details = api.get_client().get_boolean_details("nope", False, EvaluationContext(targeting_key="1"))
    assert (details.value, details.error_code) == (False, ErrorCode.FLAG_NOT_FOUND)
    assert rollout.should_enable_feature("nope", "1") is details.value
