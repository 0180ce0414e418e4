"""Stage parsing: the seed's stages, validated percentages, and clear refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stagewise import ConfigError
from stagewise.rollout.stages import next_stage, parse_stage


@pytest.mark.parametrize(
    ("text", "name", "threshold"),
    [
        ("disabled", "disabled", 0),
        ("10%", "10%", 1000),
        ("50%", "50%", 5000),
        ("100%", "100%", 10_000),
        ("12.5%", "12.5%", 1250),
        ("0.01%", "0.01%", 1),
        (" 25 %", "25%", 2500),
        ("12.50%", "12.5%", 1250),
        ("0%", "0%", 0),
    ],
)
def test_accepted_stages(text: str, name: str, threshold: int) -> None:
    stage = parse_stage(text)
    assert stage.name == name
    assert stage.threshold() == threshold


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (37, "a number needs a '%' sign"),
        ("ten", "'ten'"),
        ("-5%", "negative"),
        ("150%", "above 100%"),
        ("12.345%", "two decimals"),
        ("", "''"),
        (None, "None"),
        ("10", "'10'"),
    ],
    ids=["37", "ten", "-5%", "150%", "12.345%", "empty", "None", "no-percent-sign"],
)
def test_refused_stages_name_the_value_and_the_accepted_forms(bad: object, why: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_stage(bad)
    message = str(info.value)
    assert why in message
    assert "'disabled'" in message
    assert "'12.5%'" in message


def test_legacy_threshold_counts_in_100_buckets() -> None:
    assert parse_stage("10%").threshold(legacy=True) == 10
    with pytest.raises(ConfigError):
        parse_stage("12.5%").threshold(legacy=True)


def test_next_stage_follows_the_seed_ramp() -> None:
    names = []
    stage = parse_stage("disabled")
    while (step := next_stage(stage)) is not None:
        names.append(step.name)
        stage = step
    assert names == ["10%", "50%", "100%"]


@given(st.integers(0, 10_000))
def test_every_hundredth_of_a_percent_round_trips(hundredths: int) -> None:
    text = f"{Decimal(hundredths) / 100}%"
    stage = parse_stage(text)
    assert stage.threshold() == hundredths
    assert parse_stage(stage.name) == stage
