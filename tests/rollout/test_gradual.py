"""GradualRollout over the JSON file store: the seed's API and file, stages, audit log, kill switch."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise import ConfigError, DataValidationError, NotFoundError, UnsupportedFormatError
from stagewise.rollout import ALL_FEATURES, GradualRollout, MemoryRolloutStore
from stagewise.rollout.bucketing import bucket_of, legacy_bucket, threshold

# The sample config of seed 000 §3, byte for byte.
SEED_CONFIG = """{
  "feature_rollouts": {
    "dynamic_integration": {
      "stage": "100%",
      "enabled_at": "2025-11-01"
    },
    "entry_prediction_model": {
      "stage": "100%",
      "enabled_at": "2025-11-15"
    },
    "probability_calibration": {
      "stage": "disabled",
      "enabled_at": null
    }
  },
  "updated_at": "2025-12-02 16:12:02"
}
"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 12, 3, 9, 30, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def seed_path(tmp_path: Path) -> Path:
    path = tmp_path / "config" / "rollout_config.json"
    path.parent.mkdir()
    path.write_text(SEED_CONFIG, encoding="utf-8")
    return path


def open_rollout(path: Path, clock: Clock, actor: str = "ops") -> GradualRollout:
    return GradualRollout(path, now=clock, refresh_interval=0, actor=actor)


def test_seed_config_loads_unchanged_and_reading_never_writes(seed_path: Path, clock: Clock) -> None:
    rollout = open_rollout(seed_path, clock)
    status = rollout.get_rollout_status()
    assert status["updated_at"] == "2025-12-02 16:12:02"
    stages = {
        name: (f["stage"], f["enabled_at"], f["hash_mode"]) for name, f in status["feature_rollouts"].items()
    }
    assert stages == {
        "dynamic_integration": ("100%", "2025-11-01", "legacy-md5"),
        "entry_prediction_model": ("100%", "2025-11-15", "legacy-md5"),
        "probability_calibration": ("disabled", None, "legacy-md5"),
    }
    assert rollout.should_enable_feature("dynamic_integration", 12345) is True
    assert rollout.should_enable_feature("probability_calibration", 12345) is False
    assert seed_path.read_text(encoding="utf-8") == SEED_CONFIG
    assert not (seed_path.parent / "rollout_audit.jsonl").exists()


def test_seed_test_script_output_is_reproduced(seed_path: Path, clock: Clock) -> None:
    rollout = open_rollout(seed_path, clock)
    counts = {}
    for stage in ("disabled", "10%", "50%", "100%"):
        rollout.update_rollout_stage("probability_calibration", stage)
        counts[stage] = sum(rollout.should_enable_feature("probability_calibration", i) for i in range(100))
    assert counts == {"disabled": 0, "10%": 13, "50%": 52, "100%": 100}


def test_enabled_at_and_updated_at_are_maintained_as_in_the_seed(seed_path: Path, clock: Clock) -> None:
    rollout = open_rollout(seed_path, clock)
    rollout.update_rollout_stage("probability_calibration", "10%", reason="canary")
    doc = json.loads(seed_path.read_text())
    assert doc["feature_rollouts"]["probability_calibration"]["enabled_at"] == "2025-12-03"
    assert doc["updated_at"] == "2025-12-03 09:30:00"
    clock.advance(days=7)
    rollout.update_rollout_stage("probability_calibration", "50%")
    doc = json.loads(seed_path.read_text())
    assert (
        doc["feature_rollouts"]["probability_calibration"]["enabled_at"] == "2025-12-03"
    )  # kept while enabled
    assert doc["updated_at"] == "2025-12-10 09:30:00"
    rollout.update_rollout_stage("probability_calibration", "disabled")
    assert (
        json.loads(seed_path.read_text())["feature_rollouts"]["probability_calibration"]["enabled_at"] is None
    )
    # untouched features keep the seed's values
    assert doc["feature_rollouts"]["dynamic_integration"]["enabled_at"] == "2025-11-01"


def test_new_features_use_the_salted_scheme_and_record_it(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "rollout_config.json"
    rollout = open_rollout(path, clock)
    rollout.add_feature("calibration_v2", "12.5%", reason="start")
    stored = json.loads(path.read_text())["feature_rollouts"]["calibration_v2"]
    assert stored["hash_mode"] == "blake2b-64"
    assert stored["salt"] == "calibration_v2"  # the default salt is the feature name
    assert stored["stage"] == "12.5%"
    on = np.array([rollout.should_enable_feature("calibration_v2", i) for i in range(20_000)])
    assert abs(on.mean() - 0.125) < 0.01
    assert (rollout.enabled_many("calibration_v2", np.arange(20_000)) == on).all()


def test_explicit_salt_gives_reproducible_assignment(tmp_path: Path, clock: Clock) -> None:
    a = open_rollout(tmp_path / "a.json", clock)
    b = open_rollout(tmp_path / "b.json", clock)
    a.add_feature("f", "50%", salt="shared-salt")
    b.add_feature("f", "50%", salt="shared-salt")
    ids = [f"race-{i}" for i in range(500)]
    assert [a.should_enable_feature("f", i) for i in ids] == [b.should_enable_feature("f", i) for i in ids]


def test_without_a_salt_every_host_creating_the_feature_buckets_every_race_alike(
    tmp_path: Path, clock: Clock
) -> None:
    """Two hosts, two config files, the same ``add_feature`` call: the same cohort, run after run."""
    hosts = [open_rollout(tmp_path / f"host{k}.json", clock) for k in (1, 2)]
    hosts.append(GradualRollout(store=MemoryRolloutStore(), refresh_interval=0, actor="t"))
    for rollout in hosts:
        rollout.add_feature("calibration_v2", "10%", reason="canary")
    ids = [f"2025120301{i:04d}" for i in range(3000)]
    cohorts = [[r.should_enable_feature("calibration_v2", i) for i in ids] for r in hosts]
    assert cohorts[0] == cohorts[1] == cohorts[2]
    assert [r.feature("calibration_v2").salt for r in hosts] == ["calibration_v2"] * 3
    assert cohorts[0] == [bucket_of("calibration_v2", i) < threshold("10") for i in ids]
    # another feature name is another salt: independent cohorts (about 1 % overlap, not 10 %)
    hosts[0].add_feature("dynamic_integration", "10%")
    both = [
        hosts[0].should_enable_feature("dynamic_integration", i) and on
        for i, on in zip(ids, cohorts[0], strict=True)
    ]
    assert sum(both) < 0.03 * len(ids)


def test_a_feature_stored_with_a_random_salt_keeps_bucketing_by_it(tmp_path: Path, clock: Clock) -> None:
    """Configs written when the default salt was random load and bucket exactly as before."""
    path = tmp_path / "rollout_config.json"
    stored = {
        "stage": "50%",
        "enabled_at": "2025-11-20",
        "hash_mode": "blake2b-64",
        "salt": "f:3f9a0c6e1d2b4a57",
    }
    doc = {"feature_rollouts": {"f": stored}, "updated_at": "2025-11-20 10:00:00"}
    path.write_text(json.dumps(doc), encoding="utf-8")
    rollout = open_rollout(path, clock)
    ids = [f"race-{i}" for i in range(2000)]
    on = [rollout.should_enable_feature("f", i) for i in ids]
    assert on == [bucket_of("f:3f9a0c6e1d2b4a57", i) < threshold("50") for i in ids]
    assert on != [bucket_of("f", i) < threshold("50") for i in ids]
    rollout.update_rollout_stage("f", "100%", reason="healthy")
    assert json.loads(path.read_text())["feature_rollouts"]["f"]["salt"] == "f:3f9a0c6e1d2b4a57"


@pytest.mark.parametrize("bad", [37, "ten", "-5%", "150%"])
def test_bad_stage_is_refused_and_nothing_is_stored(seed_path: Path, clock: Clock, bad: object) -> None:
    rollout = open_rollout(seed_path, clock)
    with pytest.raises(ConfigError, match="'disabled' or a percentage") as info:
        rollout.update_rollout_stage("probability_calibration", bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)
    assert seed_path.read_text(encoding="utf-8") == SEED_CONFIG
    assert rollout.audit_log() == []


def test_legacy_features_refuse_stages_finer_than_one_percent(seed_path: Path, clock: Clock) -> None:
    rollout = open_rollout(seed_path, clock)
    with pytest.raises(ConfigError, match="legacy MD5 bucketing"):
        rollout.update_rollout_stage("probability_calibration", "12.5%")
    assert seed_path.read_text(encoding="utf-8") == SEED_CONFIG


def test_unknown_feature_lists_the_known_ones(seed_path: Path, clock: Clock) -> None:
    rollout = open_rollout(seed_path, clock)
    assert rollout.should_enable_feature("nope", 1) is False  # reading: off, as in the seed (warned once)
    calls = [
        lambda: rollout.update_rollout_stage("nope", "10%"),
        lambda: rollout.check_rollout_health("nope", {}),
        lambda: rollout.rollout_plan("nope"),
        lambda: rollout.kill("nope", reason="x"),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match="'nope'") as info:
            call()
        assert "dynamic_integration, entry_prediction_model, probability_calibration" in str(info.value)
    assert seed_path.read_text(encoding="utf-8") == SEED_CONFIG


def test_race_id_of_an_unsupported_type_is_refused(seed_path: Path, clock: Clock) -> None:
    rollout = open_rollout(seed_path, clock)
    with pytest.raises(ConfigError, match="float"):
        rollout.should_enable_feature("dynamic_integration", 1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"feature_rollouts": []}', "'feature_rollouts' must be an object"),
        ('{"feature_rollouts": {"f": {"enabled_at": null}}}', "has no 'stage'"),
        ('{"feature_rollouts": {"f": {"stage": "ten"}}}', r"feature_rollouts\['f'\].stage"),
        ('{"feature_rollouts": {"f": {"stage": "10%", "hash_mode": "sha1"}}}', "hash_mode must be one of"),
        ('{"feature_rollouts": {"f": {"stage": "10%", "hash_mode": "blake2b-64"}}}', "salt must be"),
        ('{"feature_rollouts": {"f": {"stage": "12.5%"}}}', "finer than the 100 buckets"),
    ],
    ids=[
        "not-json",
        "array",
        "rollouts-list",
        "no-stage",
        "bad-stage",
        "bad-hash-mode",
        "no-salt",
        "legacy-12.5",
    ],
)
def test_broken_config_is_refused_and_left_untouched(
    tmp_path: Path, clock: Clock, content: str, match: str
) -> None:
    path = tmp_path / "rollout_config.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=match):
        open_rollout(path, clock)
    assert path.read_text() == content


def test_a_config_broken_after_start_is_refused_on_write_and_left_untouched(
    seed_path: Path, clock: Clock
) -> None:
    rollout = open_rollout(seed_path, clock)
    seed_path.write_text("{oops")
    with pytest.raises(ConfigError, match="not valid JSON"):
        rollout.update_rollout_stage("probability_calibration", "10%")
    assert seed_path.read_text() == "{oops"
    # serving keeps the last good config (and says why) instead of failing every race
    assert rollout.should_enable_feature("dynamic_integration", 1) is True
    assert isinstance(rollout.refresh_error, ConfigError)
    seed_path.write_text(SEED_CONFIG.replace('"100%"', '"disabled"', 1))
    assert rollout.should_enable_feature("dynamic_integration", 1) is False
    assert rollout.refresh_error is None


def test_newer_format_version_is_refused(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "rollout_config.json"
    path.write_text('{"format_version": 99, "feature_rollouts": {}}')
    with pytest.raises(UnsupportedFormatError, match="format_version 99"):
        open_rollout(path, clock)


def test_unknown_keys_survive_a_rewrite(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "rollout_config.json"
    path.write_text('{"feature_rollouts": {"f": {"stage": "10%", "owner": "ml-team"}}, "notes": "keep me"}')
    open_rollout(path, clock).update_rollout_stage("f", "50%")
    doc = json.loads(path.read_text())
    assert doc["notes"] == "keep me"
    assert doc["feature_rollouts"]["f"]["owner"] == "ml-team"
    assert doc["format_version"] == 1


def test_audit_log_records_who_when_why_old_and_new(seed_path: Path, clock: Clock) -> None:
    rollout = open_rollout(seed_path, clock, actor="alice")
    rollout.update_rollout_stage("probability_calibration", "10%", reason="canary after backtest")
    rollout.update_rollout_stage(
        "probability_calibration", "50%", actor="bob", details={"hit_rate_1st": 0.26}
    )
    before = seed_path.read_bytes()
    clock.advance(hours=1)
    rollout.update_rollout_stage("probability_calibration", "50%")  # no change: not logged, not written
    assert seed_path.read_bytes() == before
    log = rollout.audit_log()
    assert [(e["actor"], e["old_stage"], e["new_stage"], e["reason"]) for e in log] == [
        ("alice", "disabled", "10%", "canary after backtest"),
        ("bob", "10%", "50%", None),
    ]
    assert log[0]["at"] == "2025-12-03T09:30:00+00:00"
    assert log[1]["details"] == {"hit_rate_1st": 0.26}
    assert log[1]["prev_hash"] == log[0]["hash"]
    report = rollout.verify_audit()
    assert report.ok, report.problems
    assert report.entries == 2


def _three_changes(seed_path: Path, clock: Clock) -> tuple[GradualRollout, Path]:
    rollout = open_rollout(seed_path, clock)
    for stage in ("10%", "50%", "100%"):
        rollout.update_rollout_stage("probability_calibration", stage, reason=f"to {stage}")
    return rollout, seed_path.parent / "rollout_audit.jsonl"


def test_verify_detects_an_edited_entry(seed_path: Path, clock: Clock) -> None:
    rollout, log = _three_changes(seed_path, clock)
    log.write_text(log.read_text().replace('"reason":"to 50%"', '"reason":"approved by CTO"'))
    report = rollout.verify_audit()
    assert not report.ok
    assert "line 2 (seq 2): hash mismatch" in report.problems[0]


def test_verify_detects_a_deleted_entry(seed_path: Path, clock: Clock) -> None:
    rollout, log = _three_changes(seed_path, clock)
    lines = log.read_text().splitlines(keepends=True)
    log.write_text(lines[0] + lines[2])
    report = rollout.verify_audit()
    assert not report.ok
    assert "prev_hash does not match" in report.problems[0]


def test_verify_detects_reordered_entries(seed_path: Path, clock: Clock) -> None:
    rollout, log = _three_changes(seed_path, clock)
    lines = log.read_text().splitlines(keepends=True)
    log.write_text(lines[1] + lines[0] + lines[2])
    assert not rollout.verify_audit().ok


def test_verify_detects_entries_cut_from_the_end(seed_path: Path, clock: Clock) -> None:
    rollout, log = _three_changes(seed_path, clock)
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:1]))
    report = rollout.verify_audit()
    assert not report.ok
    assert "deleted from the end" in report.problems[0]


def test_verify_detects_a_config_edited_by_hand(seed_path: Path, clock: Clock) -> None:
    rollout, _ = _three_changes(seed_path, clock)
    doc = json.loads(seed_path.read_text())
    doc["feature_rollouts"]["probability_calibration"]["stage"] = "10%"
    seed_path.write_text(json.dumps(doc))
    report = rollout.verify_audit()
    assert not report.ok
    assert "edited outside stagewise" in report.problems[0]


def test_kill_switch_disables_everywhere_and_is_audited(seed_path: Path, clock: Clock) -> None:
    operator = open_rollout(seed_path, clock, actor="oncall")
    server = open_rollout(seed_path, clock)  # another instance, as in another process
    assert server.should_enable_feature("dynamic_integration", 7) is True
    killed = operator.kill(ALL_FEATURES, reason="bad odds feed")
    assert killed == ["dynamic_integration", "entry_prediction_model", "probability_calibration"]
    assert not any(server.should_enable_feature(f, i) for f in killed for i in range(200))
    assert server.is_killed("dynamic_integration")
    log = operator.audit_log()
    assert [(e["action"], e["feature"], e["old_stage"], e["new_stage"]) for e in log[:2]] == [
        ("kill", "dynamic_integration", "100%", "disabled"),
        ("kill", "entry_prediction_model", "100%", "disabled"),
    ]
    assert {e["reason"] for e in log} == {"bad odds feed"}
    assert operator.verify_audit().ok
    operator.update_rollout_stage("dynamic_integration", "10%", reason="feed fixed")
    assert not server.is_killed("dynamic_integration")


def test_kill_one_feature_needs_a_reason(seed_path: Path, clock: Clock) -> None:
    rollout = open_rollout(seed_path, clock)
    with pytest.raises(ConfigError, match="reason"):
        rollout.kill("dynamic_integration", reason=" ")
    assert rollout.kill("dynamic_integration", reason="incident 42") == ["dynamic_integration"]
    assert rollout.get_rollout_status()["feature_rollouts"]["entry_prediction_model"]["stage"] == "100%"


def test_other_instances_pick_up_changes_after_the_refresh_interval(seed_path: Path, clock: Clock) -> None:
    writer = open_rollout(seed_path, clock)
    reader = GradualRollout(seed_path, now=clock, refresh_interval=3600)
    writer.kill("dynamic_integration", reason="x")
    assert reader.should_enable_feature("dynamic_integration", 1) is True  # cached until the next check
    reader.refresh()
    assert reader.should_enable_feature("dynamic_integration", 1) is False


def test_record_audit_logs_a_decision_without_changing_the_config(seed_path: Path, clock: Clock) -> None:
    rollout = open_rollout(seed_path, clock)
    entry = rollout.record_audit("dynamic_integration", "hold", reason="WARNING", details={"days_healthy": 2})
    assert entry["action"] == "hold"
    assert entry["old_stage"] == entry["new_stage"] == "100%"
    assert rollout.verify_audit().ok
    assert json.loads(seed_path.read_text())["updated_at"] == "2025-12-02 16:12:02"


def test_rollout_plan_has_the_seed_shape_with_target_dates(seed_path: Path, clock: Clock) -> None:
    rollout = open_rollout(seed_path, clock)
    plan = rollout.rollout_plan("probability_calibration")
    assert plan["feature_name"] == "probability_calibration"
    assert [(s["stage"], s.get("target_date")) for s in plan["stages"]] == [
        ("disabled", None),
        ("10%", "2025-12-03"),
        ("50%", "2025-12-10"),
        ("100%", "2025-12-17"),
    ]
    assert all({"stage", "duration", "description"} <= set(s) for s in plan["stages"])
    assert "error_rate (error rate) ≥ 10.00%" in plan["rollback_criteria"]
    enabled_plan = rollout.rollout_plan("entry_prediction_model")
    assert enabled_plan["stages"][1]["target_date"] == "2025-11-15"  # anchored at enabled_at


def test_check_rollout_health_through_the_seed_call(seed_path: Path, clock: Clock) -> None:
    rollout = open_rollout(seed_path, clock)
    metrics = {"hit_rate_1st": 0.25, "hit_rate_top3": 0.10, "avg_score_accuracy": 0.70, "error_rate": 0.02}
    result = rollout.check_rollout_health("probability_calibration", metrics)
    assert (result["status"], result["action"]) == ("HEALTHY", "PROCEED_TO_NEXT_STAGE")
    assert result["recommendations"] == ["advance probability_calibration to 10%"]
    assert result["checked_at"] == "2025-12-03T09:30:00+00:00"
    with pytest.raises(DataValidationError):
        rollout.check_rollout_health("probability_calibration", {"hit_rate_1st": 0.25})


def test_add_feature_refuses_duplicates_and_bad_names(tmp_path: Path, clock: Clock) -> None:
    rollout = open_rollout(tmp_path / "c.json", clock)
    rollout.add_feature("f")
    with pytest.raises(ConfigError, match="already exists"):
        rollout.add_feature("f")
    for bad in ("", "*", "has space", "x" * 200):
        with pytest.raises(ConfigError, match="feature name"):
            rollout.add_feature(bad)
    assert list(rollout.get_rollout_status()["feature_rollouts"]) == ["f"]


@settings(max_examples=200, deadline=None)
@given(
    unit=st.one_of(st.text(max_size=30), st.integers(min_value=-(2**70), max_value=2**70)),
    hundredths=st.integers(0, 10_000),
)
def test_should_enable_feature_is_exactly_bucket_below_threshold(unit: str | int, hundredths: int) -> None:
    rollout = GradualRollout(store=MemoryRolloutStore(), refresh_interval=0, actor="t")
    stage = f"{hundredths / 100:g}%" if hundredths % 100 else f"{hundredths // 100}%"
    rollout.add_feature("f", stage, salt="property")
    expected = bucket_of("property", unit) < threshold(stage.rstrip("%"))
    assert rollout.should_enable_feature("f", unit) is expected
    assert rollout.enabled_many("f", [unit]).tolist() == [expected]


def test_variants_split_enabled_races_stably_and_are_audited(tmp_path: Path, clock: Clock) -> None:
    rollout = open_rollout(tmp_path / "c.json", clock)
    rollout.add_feature("calib", "10%", salt="calib")
    rollout.set_variants("calib", {"iso": 0.5, "platt": 0.5}, reason="two calibrators")
    races = [f"r{i}" for i in range(4000)]
    at_10 = {r: rollout.variant("calib", r) for r in races}
    assert {v for v in at_10.values()} == {"control", "iso", "platt"}
    for race, group in at_10.items():
        assert (group != "control") is rollout.should_enable_feature("calib", race)
    rollout.update_rollout_stage("calib", "50%")
    at_50 = {r: rollout.variant("calib", r) for r in races}
    assert all(at_50[r] == g for r, g in at_10.items() if g != "control")  # nobody switches variant
    log = rollout.audit_log()
    assert log[1]["action"] == "set_variants"
    assert log[1]["details"] == {"old_variants": None, "new_variants": {"iso": 0.5, "platt": 0.5}}
    for bad in ({"iso": 0.7, "platt": 0.7}, {"control": 1.0}):
        with pytest.raises(ConfigError):
            rollout.set_variants("calib", bad)
    rollout.set_variants("calib", None, reason="back to on/off")
    assert {rollout.variant("calib", r) for r in races} == {"control", "on"}
    assert rollout.verify_audit().ok


@settings(max_examples=150, deadline=None)
@given(
    unit=st.one_of(st.text(max_size=30), st.integers(min_value=-(2**70), max_value=2**70)),
    percent=st.integers(0, 100),
)
def test_legacy_features_are_exactly_md5_bucket_below_percent(unit: str | int, percent: int) -> None:
    rollout = GradualRollout(store=MemoryRolloutStore(), refresh_interval=0, actor="t")
    rollout.add_feature("seed_feature", f"{percent}%", hash_mode="legacy-md5")
    expected = legacy_bucket(unit) < percent
    assert rollout.should_enable_feature("seed_feature", unit) is expected
    assert rollout.enabled_many("seed_feature", [unit]).tolist() == [expected]
