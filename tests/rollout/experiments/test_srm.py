from __future__ import annotations

import math

import pytest
from scipy.stats import chi2

from stagewise._exceptions import ConfigError
from stagewise.rollout.experiments.srm import srm_check


def test_hand_computed_chi_square() -> None:
    # expected 900 / 100; (870-900)^2/900 + (130-100)^2/100 = 1 + 9 = 10
    r = srm_check({"control": 870, "challenger": 130}, {"control": 0.9, "challenger": 0.1})
    assert math.isclose(r.statistic, 10.0)
    assert math.isclose(r.p_value, float(chi2.sf(10.0, 1)))
    assert r.verdict == "ok"  # p = 0.0016 is not below 0.001
    assert r.expected == {"control": 900.0, "challenger": 100.0}


def test_mismatch_holds() -> None:
    r = srm_check({"control": 8_700, "challenger": 1_300}, {"control": 0.9, "challenger": 0.1})
    assert r.verdict == "hold"
    assert r.p_value < 1e-6
    assert r.as_dict()["verdict"] == "hold"


def test_three_groups_match() -> None:
    r = srm_check({"control": 5_010, "a": 2_480, "b": 2_510}, {"control": 0.5, "a": 0.25, "b": 0.25})
    assert r.verdict == "ok"
    assert r.total == 10_000


def test_few_units_are_insufficient_data() -> None:
    r = srm_check({"control": 40, "challenger": 0}, {"control": 0.9, "challenger": 0.1})
    assert r.verdict == "insufficient_data"
    assert math.isnan(r.p_value)


def test_units_in_a_zero_share_group_are_an_outright_mismatch() -> None:
    r = srm_check({"control": 1000, "challenger": 3}, {"control": 1.0, "challenger": 0.0})
    assert r.verdict == "hold"
    assert r.p_value == 0.0


@pytest.mark.parametrize(
    ("counts", "shares", "message"),
    [
        ({"a": 1}, {"b": 1.0}, "same groups"),
        ({"a": -1, "b": 2}, {"a": 0.5, "b": 0.5}, "group 'a' must be an int >= 0. Got -1"),
        ({"a": 1.5, "b": 2}, {"a": 0.5, "b": 0.5}, "Got 1.5"),
        ({"a": 1, "b": 2}, {"a": 0.5, "b": 0.6}, "sum to 1"),
        ({"a": 1, "b": 2}, {"a": 1.5, "b": -0.5}, r"in \[0, 1\]"),
    ],
    ids=["names", "negative", "fraction", "sum", "range"],
)
def test_bad_input_names_the_value(counts: dict[str, int], shares: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        srm_check(counts, shares)
