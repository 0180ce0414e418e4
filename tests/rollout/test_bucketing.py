"""The published bucketing spec: golden vectors, seed compatibility and statistical properties."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from stagewise import ConfigError
from stagewise.rollout.bucketing import (
    BUCKETS,
    bucket_of,
    buckets_of,
    digest_cutoff,
    legacy_bucket,
    legacy_buckets_of,
    legacy_checker,
    salted_checker,
    threshold,
)

GOLDEN = json.loads(Path(__file__).with_name("golden_buckets.json").read_text(encoding="utf-8"))
unit_ids = st.one_of(st.text(max_size=60), st.integers(min_value=-(2**70), max_value=2**70))
salts = st.text(max_size=40)


def _unit(kind: str, text: str) -> int | str:
    return int(text) if kind == "int" else text


def test_golden_file_has_the_promised_coverage() -> None:
    vectors = GOLDEN["vectors"]
    texts = {text for _, _, text, _ in vectors}
    assert len(vectors) >= 10_000
    assert any(len(t) >= 10_000 for t in texts)
    assert {"日本語", "🚀", "0", "-1", str(2**63)} <= texts
    assert {kind for _, kind, _, _ in vectors} == {"int", "str"}


def test_bucket_of_reproduces_every_golden_vector() -> None:
    salts_ = GOLDEN["salts"]
    mismatches = [
        (salts_[i][:20], text[:20], want, bucket_of(salts_[i], _unit(kind, text)))
        for i, kind, text, want in GOLDEN["vectors"]
        if bucket_of(salts_[i], _unit(kind, text)) != want
    ]
    assert mismatches == []


def test_batch_path_reproduces_every_golden_vector() -> None:
    salts_ = GOLDEN["salts"]
    for index, salt in enumerate(salts_):
        rows = [row for row in GOLDEN["vectors"] if row[0] == index]
        got = buckets_of(salt, [_unit(kind, text) for _, kind, text, _ in rows])
        assert got.tolist() == [want for *_, want in rows], salt[:20]


def test_legacy_bucket_reproduces_the_golden_md5_vectors() -> None:
    rows = GOLDEN["legacy"]["vectors"]
    assert [legacy_bucket(_unit(kind, text)) for kind, text, _ in rows] == [want for *_, want in rows]
    assert legacy_buckets_of([_unit(k, t) for k, t, _ in rows]).tolist() == [want for *_, want in rows]


@pytest.mark.parametrize("stage", ["0.01%", "10%", "50%", "99.99%"])
def test_should_enable_feature_answers_every_golden_vector_at_every_stage(stage: str) -> None:
    """The rollout's per-call check is the bucketing's: ``bucket < threshold`` on every golden vector."""
    from stagewise.rollout import GradualRollout, MemoryRolloutStore

    rollout = GradualRollout(store=MemoryRolloutStore(), actor="test")
    cut = threshold(stage.rstrip("%"))
    salted = {i: salt for i, salt in enumerate(GOLDEN["salts"]) if salt}  # a stored salt is never empty
    for index, salt in salted.items():
        rollout.add_feature(f"f{index}", stage, salt=salt)
    checked = [(i, kind, text, want) for i, kind, text, want in GOLDEN["vectors"] if i in salted]
    wrong = [
        (index, text[:20])
        for index, kind, text, want in checked
        if rollout.should_enable_feature(f"f{index}", _unit(kind, text)) != (want < cut)
    ]
    assert len(checked) > 8_000
    assert wrong == []


@pytest.mark.parametrize("stage", ["1%", "10%", "50%", "99%"])
def test_legacy_should_enable_feature_answers_every_golden_md5_vector(stage: str) -> None:
    from stagewise.rollout import GradualRollout, MemoryRolloutStore

    rollout = GradualRollout(store=MemoryRolloutStore(), actor="test")
    rollout.add_feature("seed", stage, hash_mode="legacy-md5")
    percent = int(stage.rstrip("%"))
    rows = GOLDEN["legacy"]["vectors"]
    got = [rollout.should_enable_feature("seed", _unit(kind, text)) for kind, text, _ in rows]
    assert got == [want < percent for *_, want in rows]


@pytest.mark.parametrize("hash_mode", ["blake2b-64", "legacy-md5"])
def test_the_rollout_refuses_a_lone_surrogate_naming_it(hash_mode: str) -> None:
    from stagewise.rollout import GradualRollout, MemoryRolloutStore

    rollout = GradualRollout(store=MemoryRolloutStore(), actor="test")
    rollout.add_feature("f", "10%", salt="s", hash_mode=hash_mode)
    with pytest.raises(ConfigError, match=r"'\\ud800' cannot be encoded as UTF-8"):
        rollout.should_enable_feature("f", "\ud800")


@pytest.mark.parametrize("ids", [range(100), range(1, 101)], ids=["range(100)", "range(1,101)"])
def test_legacy_scheme_reproduces_the_seed_sample_output(ids: range) -> None:
    # The seed's test script printed 0/100, 13/100, 52/100, 100/100 for its stages.
    counts = {pct: sum(legacy_bucket(i) < pct for i in ids) for pct in (0, 10, 50, 100)}
    assert counts == {0: 0, 10: 13, 50: 52, 100: 100}


def test_int_ids_hash_as_their_decimal_text() -> None:
    assert bucket_of("s", 2**63) == bucket_of("s", str(2**63))
    assert bucket_of("s", -42) == bucket_of("s", "-42")
    assert bucket_of("s", np.int64(17)) == bucket_of("s", "17")  # type: ignore[arg-type]
    assert buckets_of("s", np.arange(5)).tolist() == [bucket_of("s", i) for i in range(5)]


@pytest.mark.parametrize(
    ("bad", "type_name"),
    [(1.0, "float"), (True, "bool"), (None, "NoneType"), (b"17", "bytes"), (np.float64(2.0), "float64")],
    ids=["float", "bool", "None", "bytes", "numpy-float"],
)
def test_ids_of_other_types_are_refused_naming_type_and_accepted(bad: object, type_name: str) -> None:
    for call in (
        lambda: bucket_of("s", bad),  # type: ignore[arg-type]
        lambda: legacy_bucket(bad),
        lambda: buckets_of("s", [1, bad]),  # type: ignore[list-item]
        lambda: salted_checker("s", 1000)(bad),  # type: ignore[arg-type]
        lambda: legacy_checker(10)(bad),  # type: ignore[arg-type]
        lambda: salted_checker("s", 0)(bad),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigError, match=type_name) as info:
            call()
        assert "str or int" in str(info.value)


def test_lone_surrogates_are_refused_not_crashing() -> None:
    with pytest.raises(ConfigError, match="UTF-8"):
        bucket_of("s", "\ud800")


@pytest.mark.parametrize(
    ("percent", "expected"), [(0, 0), (10, 1000), ("12.5", 1250), (12.5, 1250), ("0.01", 1), (100, 10_000)]
)
def test_threshold_is_exact(percent: object, expected: int) -> None:
    assert threshold(percent) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("percent", [-5, 150, "12.345", float("nan"), "ten"])
def test_threshold_refuses_what_is_not_a_whole_number_of_buckets(percent: object) -> None:
    with pytest.raises(ConfigError, match=r"percentage"):
        threshold(percent)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(salt=salts, unit=unit_ids)
def test_deterministic_and_in_range(salt: str, unit: int | str) -> None:
    try:
        first = bucket_of(salt, unit)
    except ConfigError:
        return  # lone surrogates in generated text
    assert 0 <= first < BUCKETS
    assert bucket_of(salt, unit) == first
    assert buckets_of(salt, [unit]).tolist() == [first]


@settings(max_examples=300, deadline=None)
@given(salt=salts, unit=unit_ids, low=st.integers(0, BUCKETS), high=st.integers(0, BUCKETS))
def test_monotone_a_unit_on_at_a_lower_stage_stays_on_at_every_higher_one(
    salt: str, unit: int | str, low: int, high: int
) -> None:
    low, high = min(low, high), max(low, high)
    try:
        on_low = salted_checker(salt, low)(unit)
    except ConfigError:
        return
    on_high = salted_checker(salt, high)(unit)
    assert on_low <= on_high
    assert on_low == (bucket_of(salt, unit) < low)


@settings(max_examples=100, deadline=None)
@given(unit=unit_ids)
def test_monotone_in_legacy_mode_over_the_seed_stages(unit: int | str) -> None:
    try:
        flags = [legacy_checker(p)(unit) for p in (0, 10, 50, 100)]
    except ConfigError:
        return
    assert flags == sorted(flags)
    assert flags[0] is False
    assert flags[-1] is True


def _uniformity_p_value(n: int) -> float:
    buckets = buckets_of("uniformity-check", np.arange(n))
    counts = np.bincount(buckets, minlength=BUCKETS)
    return float(chisquare(counts).pvalue)


def test_uniform_over_100k_race_ids() -> None:
    assert _uniformity_p_value(100_000) > 0.001


@pytest.mark.slow
def test_uniform_over_1m_race_ids() -> None:
    assert _uniformity_p_value(1_000_000) > 0.001


def test_uniform_at_the_stage_level_over_string_ids() -> None:
    ids = [f"2025{i:08d}" for i in range(100_000)]
    on = buckets_of("stage-check", ids) < threshold(10)
    # 10 % of 100k: 10,000 ± 3 sd (sd ≈ 95)
    assert abs(int(on.sum()) - 10_000) < 300


def test_independent_across_salts_two_features_at_10_percent_overlap_about_1_percent() -> None:
    ids = np.arange(200_000)
    a = buckets_of("feature_a:1f2e", ids) < 1000
    b = buckets_of("feature_b:9c0d", ids) < 1000
    overlap = float((a & b).mean())
    # independent: 1 % (sd ≈ 0.022 %); a shared hash would give 10 %
    assert 0.009 < overlap < 0.011


@pytest.mark.parametrize(
    ("salt", "unit", "digest_hex", "bucket"),
    [
        ("probability_calibration:5c2d8e0f1a3b4c6d", 202511170101, "f2fb34571f210d4c", 9491),
        ("probability_calibration:5c2d8e0f1a3b4c6d", "日本語", "d6edb7a885a7a71b", 8395),
        ("entry_prediction_model", -1, "14f531be5f5584a4", 818),
        ("", "", "3f7cf1824f7e92ad", 2480),
    ],
)
def test_the_worked_examples_of_docs_bucketing(
    salt: str, unit: int | str, digest_hex: str, bucket: int
) -> None:
    message = salt.encode() + b":" + str(unit).encode()
    assert hashlib.blake2b(message, digest_size=8).hexdigest() == digest_hex
    assert bucket_of(salt, unit) == bucket
    assert digest_cutoff(1000).hex() == "199999999999999a"
