from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stagewise._exceptions import ConfigError
from stagewise.rollout.bucketing import BUCKETS, bucket_of, threshold
from stagewise.rollout.experiments.variants import VariantSplit


@st.composite
def weight_maps(draw: st.DrawFn) -> dict[str, float]:
    raw = draw(
        st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=5).filter(lambda v: sum(v) > 0)
    )
    total = sum(raw)
    return {f"v{i}": r / total for i, r in enumerate(raw)}


percents = st.integers(min_value=0, max_value=BUCKETS).map(lambda t: t / 100)


@settings(max_examples=60, deadline=None)
@given(
    weights=weight_maps(),
    low=percents,
    high=percents,
    ids=st.lists(st.one_of(st.integers(), st.text(max_size=20)), min_size=1, max_size=30),
)
def test_raising_the_ramp_keeps_every_enabled_unit_in_its_variant(
    weights: dict[str, float], low: float, high: float, ids: list[str | int]
) -> None:
    low, high = min(low, high), max(low, high)
    split = VariantSplit(weights)
    for unit in ids:
        before = split.variant_of("feature:salt", unit, low)
        after = split.variant_of("feature:salt", unit, high)
        if before != "control":
            assert after == before
        if after == "control":
            assert before == "control"


@settings(max_examples=40, deadline=None)
@given(weights=weight_maps(), enabled=st.integers(min_value=0, max_value=BUCKETS))
def test_every_prefix_of_buckets_is_split_by_weight_within_one_bucket_per_variant(
    weights: dict[str, float], enabled: int
) -> None:
    split = VariantSplit(weights)
    counts = split.bucket_counts(enabled)
    assert counts["control"] == BUCKETS - enabled
    for name, weight in weights.items():
        assert abs(counts[name] - weight * enabled) < len(weights)
        if weight == 0:
            assert counts[name] == 0


def test_units_are_split_by_weight_over_real_hashes() -> None:
    split = VariantSplit({"a": 0.2, "b": 0.3, "c": 0.5})
    buckets = np.array([bucket_of("calib:1", i) for i in range(40_000)])
    idx = split.variant_indices(buckets, threshold(50))
    shares = np.bincount(idx[idx >= 0], minlength=3) / len(idx)
    # 40,000 units: a share of 0.25 has a standard error of about 0.0022; allow 4 of them.
    np.testing.assert_allclose(shares, [0.1, 0.15, 0.25], atol=0.009)
    assert math.isclose((idx == -1).mean(), 0.5, abs_tol=0.01)


def test_vectorised_and_scalar_assignment_agree() -> None:
    split = VariantSplit({"x": 0.5, "y": 0.25, "z": 0.25})
    buckets = np.arange(BUCKETS)
    idx = split.variant_indices(buckets, 3000)
    for b in (0, 1, 2, 17, 2999, 3000, 9999):
        name = split.variant_of_bucket(b, 3000)
        assert name == ("control" if idx[b] == -1 else split.names[idx[b]])


def test_expected_shares_are_exact_bucket_shares() -> None:
    split = VariantSplit({"v2": 1 / 3, "v3": 2 / 3})
    shares = split.expected_shares(10)
    assert shares["control"] == 0.9
    assert math.isclose(sum(shares.values()), 1.0)
    assert abs(shares["v2"] - 0.1 / 3) <= 1 / BUCKETS


def test_legacy_resolution_of_100_buckets() -> None:
    split = VariantSplit({"on": 1.0}, buckets=100)
    assert split.variant_of_bucket(9, enabled_buckets=10) == "on"
    assert split.variant_of_bucket(10, enabled_buckets=10) == "control"
    with pytest.raises(ConfigError, match="salted scheme"):
        split.variant_of("s", 1, 10)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"a": 0.5, "b": 0.6}, r"sum to 1 .*summing to 1\.1"),
        ({"a": -0.1, "b": 1.1}, r"'a' must be a number in \[0, 1\]\. Got -0\.1"),
        ({"a": float("nan")}, "Got nan"),
        ({"a": "half", "b": 0.5}, "Got 'half'"),
        ({}, "at least one variant"),
        ({"control": 1.0}, "'control' is reserved"),
        ({"": 1.0}, "non-empty"),
        ({"a": True}, "Got True"),
    ],
    ids=["sum", "negative", "nan", "text", "empty", "reserved", "blank-name", "bool"],
)
def test_bad_weights_name_the_value(weights: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        VariantSplit(weights)


def test_sum_tolerance_is_1e_9() -> None:
    VariantSplit({"a": 0.5, "b": 0.5 + 5e-10})
    with pytest.raises(ConfigError):
        VariantSplit({"a": 0.5, "b": 0.5 + 5e-9})


def test_duplicate_names_are_refused() -> None:
    class Pairs(dict[str, float]):
        def items(self):  # type: ignore[no-untyped-def,override]
            return [("a", 0.5), ("a", 0.5)]

    with pytest.raises(ConfigError, match=r"unique\. Got 'a' twice"):
        VariantSplit(Pairs(a=1.0))


def test_bad_bucket_and_range() -> None:
    split = VariantSplit({"a": 1.0})
    with pytest.raises(ConfigError, match="'bucket'"):
        split.variant_of_bucket(BUCKETS, 10)
    with pytest.raises(ConfigError, match="'enabled_buckets'"):
        split.variant_of_bucket(0, BUCKETS + 1)
    with pytest.raises(ConfigError, match="'buckets'"):
        split.variant_indices([-1], 10)
