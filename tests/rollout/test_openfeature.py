"""The OpenFeature provider, exercised only through the SDK's public client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from stagewise.rollout import GradualRollout
from stagewise.rollout.openfeature import RolloutProvider


@pytest.fixture
def rollout(tmp_path: Path) -> GradualRollout:
    path = tmp_path / "rollout_config.json"
    path.write_text(
        '{"feature_rollouts": {"probability_calibration": {"stage": "10%", "enabled_at": "2025-11-20"},'
        ' "dynamic_integration": {"stage": "100%", "enabled_at": "2025-11-01"}},'
        ' "updated_at": "2025-12-02 16:12:02"}'
    )
    rollout = GradualRollout(path, refresh_interval=0, actor="t")
    rollout.add_feature("calib_v2", "12.5%", salt="calib_v2:s")
    rollout.add_feature("off_feature", "disabled", salt="off")
    return rollout


@pytest.fixture
def client(rollout: GradualRollout) -> Iterator[object]:
    api.set_provider(RolloutProvider(rollout, variants={"calib_v2": {"iso": 0.5, "platt": 0.5}}))
    yield api.get_client()
    api.clear_providers()


def ctx(key: str | None) -> EvaluationContext:
    return EvaluationContext(targeting_key=key)


def test_boolean_flags_agree_with_should_enable_feature(client: object, rollout: GradualRollout) -> None:
    for feature in ("probability_calibration", "calib_v2"):
        for race in range(300):
            details = client.get_boolean_details(feature, False, ctx(str(race)))  # type: ignore[attr-defined]
            assert details.value is rollout.should_enable_feature(feature, race)
            assert details.reason == Reason.SPLIT
            assert details.variant == ("on" if details.value else "off")
            assert details.flag_metadata["bucket"] == rollout.bucket(feature, race)
            assert details.flag_metadata["stage"] == rollout.feature(feature).stage.name


def test_seed_legacy_feature_keeps_its_13_of_100(client: object) -> None:
    on = [client.get_boolean_value("probability_calibration", False, ctx(str(i))) for i in range(100)]  # type: ignore[attr-defined]
    assert sum(on) == 13


def test_disabled_and_full_stages(client: object, rollout: GradualRollout) -> None:
    off = client.get_boolean_details("off_feature", True, ctx("r1"))  # type: ignore[attr-defined]
    assert (off.value, off.reason, off.variant) == (
        False,
        Reason.DISABLED,
        "off",
    )  # never the caller's default
    full = client.get_boolean_details("dynamic_integration", False, ctx(None))  # type: ignore[attr-defined]
    assert (full.value, full.reason) == (True, Reason.TARGETING_MATCH)
    rollout.kill("dynamic_integration", reason="incident")
    killed = client.get_boolean_details("dynamic_integration", True, ctx("r1"))  # type: ignore[attr-defined]
    assert (killed.value, killed.reason, killed.flag_metadata["killed"]) == (False, Reason.DISABLED, True)


def test_string_flags_split_enabled_races_between_variants(client: object, rollout: GradualRollout) -> None:
    values = [client.get_string_value("calib_v2", "default", ctx(f"race-{i}")) for i in range(4000)]  # type: ignore[attr-defined]
    counts = {v: values.count(v) for v in set(values)}
    assert set(counts) == {"control", "iso", "platt"}
    assert abs(counts["iso"] - counts["platt"]) < 120
    assert abs((counts["iso"] + counts["platt"]) / 4000 - 0.125) < 0.02
    for i in range(200):
        enabled = rollout.should_enable_feature("calib_v2", f"race-{i}")
        assert (values[i] != "control") is enabled
    plain = client.get_string_details("probability_calibration", "x", ctx("1"))  # type: ignore[attr-defined]
    assert plain.value in {"on", "off"}


def test_errors_return_the_default_with_a_code(client: object) -> None:
    missing = client.get_boolean_details("nope", True, ctx("r1"))  # type: ignore[attr-defined]
    assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    assert "Known features" in (missing.error_message or "")
    no_key = client.get_boolean_details("calib_v2", False, ctx(None))  # type: ignore[attr-defined]
    assert (no_key.value, no_key.error_code) == (False, ErrorCode.TARGETING_KEY_MISSING)
    wrong_type = client.get_integer_details("calib_v2", 7, ctx("r1"))  # type: ignore[attr-defined]
    assert (wrong_type.value, wrong_type.error_code) == (7, ErrorCode.TYPE_MISMATCH)


def test_provider_metadata(client: object) -> None:
    assert api.get_provider_metadata().name == "stagewise-rollout"
    assert client.get_provider_status().value == "READY"  # type: ignore[attr-defined]


def test_string_flags_read_the_variants_stored_in_the_config(rollout: GradualRollout) -> None:
    rollout.add_feature("ab", "100%", salt="ab")
    rollout.set_variants("ab", {"a": 0.25, "b": 0.75}, reason="test")
    api.set_provider(RolloutProvider(rollout))
    try:
        client = api.get_client()
        values = [client.get_string_value("ab", "default", ctx(f"race-{i}")) for i in range(2000)]
    finally:
        api.clear_providers()
    assert values == [rollout.variant("ab", f"race-{i}") for i in range(2000)]
    assert 0.2 < values.count("a") / 2000 < 0.3
