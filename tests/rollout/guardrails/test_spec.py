"""Declared guardrails in the policy file: what is accepted, and one-line errors for what is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stagewise._exceptions import ConfigError
from stagewise.rollout.guardrails import GuardrailMetric, parse_guardrails
from stagewise.rollout.health import load_policy

RULES = [{"metric": "hit_rate_1st", "label": "win", "critical": 0.15}]


def test_a_policy_file_with_guardrails_loads_with_the_builtin_defaults(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    guardrails = [
        {"name": "win", "metric": "win_hit", "covariate": "champion_p_pick"},
        {"name": "calibration", "metric": "brier", "tolerance": 0.005, "on_fail": "hold"},
        {
            "name": "margin",
            "metric": "my_pkg.metrics:margin",
            "harm": "increase",
            "tau": 0.1,
            "dry_run": True,
        },
    ]
    path.write_text(json.dumps({"domain": "races", "rules": RULES, "guardrails": guardrails}))
    policy = load_policy(path)
    win, calibration, margin = policy.guardrails
    assert (win.effective_harm, win.effective_tau, win.on_fail, win.min_sample) == (
        "decrease",
        0.05,
        "rollback",
        100,
    )
    assert (calibration.effective_harm, calibration.on_fail) == ("increase", "hold")
    assert margin.is_function
    assert margin.dry_run
    assert margin.effective_tau == 0.1


def test_the_builtin_policies_declare_no_guardrails() -> None:
    assert load_policy("races").guardrails == []


W = {"name": "w", "metric": "win_hit"}
FN = {"name": "w", "metric": "pkg:fn"}
BAD_GUARDRAILS = {
    "tolerance": (
        {**W, "tolerance": -1},
        r"0\.tolerance: Input should be greater than or equal to 0 \(got -1\)",
    ),
    "on_fail": (
        {**W, "on_fail": "explode"},
        r"0\.on_fail: Input should be 'rollback' or 'hold' \(got 'explode'\)",
    ),
    "min_sample": ({**W, "min_sample": 0}, r"0\.min_sample: Input should be greater than or equal to 1"),
    "tau": ({**W, "tau": 0}, r"0\.tau: Input should be greater than 0"),
    "typo": ({**W, "dryrun": True}, r"0\.dryrun: Extra inputs are not permitted"),
    "name": ({**W, "name": "has space"}, r"0\.name: String should match pattern"),
    "ece": ({**W, "metric": "ece"}, r"0: metric 'ece' is refused: ECE is not a mean over units"),
    "fn-harm": (
        {**FN, "tau": 0.1},
        r"0: 'harm' \('decrease' or 'increase'\) is required for user function 'pkg:fn'",
    ),
    "fn-tau": ({**FN, "harm": "decrease"}, r"0: 'tau' .* is required for user function"),
    "fn-path": (
        {**FN, "metric": "pkg:", "harm": "decrease", "tau": 1},
        r"0: metric 'pkg:' must be a built-in name or a dotted path",
    ),
    "covariate-outcome": (
        {**W, "covariate": "hit_1st"},
        r"0: 'covariate' 'hit_1st' is known only after the outcome",
    ),
    "covariate-own": (
        {**W, "metric": "brier", "covariate": "p_pick"},
        r"0: 'covariate' 'p_pick' is known only after",
    ),
}


@pytest.mark.parametrize(("entry", "message"), BAD_GUARDRAILS.values(), ids=BAD_GUARDRAILS.keys())
def test_a_bad_guardrail_is_refused_in_one_line_naming_the_field_and_the_rule(
    entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match="guardrails." + message) as caught:
        load_policy({"domain": "races", "rules": RULES, "guardrails": [entry]})
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("Invalid health policy (dict): ")


def test_two_guardrails_with_one_name_are_refused() -> None:
    doc = {"domain": "races", "rules": RULES, "guardrails": [{"name": "w", "metric": "win_hit"}] * 2}
    with pytest.raises(ConfigError, match="name 'w' is used twice; names must be unique"):
        load_policy(doc)
    with pytest.raises(ConfigError, match="name 'w' is used twice"):
        parse_guardrails([{"name": "w", "metric": "win_hit"}, {"name": "w", "metric": "brier"}])


def test_an_unknown_builtin_name_is_accepted_here_and_judged_insufficient_later() -> None:
    metric = GuardrailMetric(name="w", metric="win_hit_v2")
    assert (metric.effective_harm, metric.effective_tau) == ("decrease", 0.05)


def test_policy_errors_elsewhere_are_one_line_too(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"domain": "x", "rules": []}))
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert str(caught.value) == (
        f"Invalid health policy {str(path)!r}: rules: List should have at least 1 item after validation, "
        "not 0 (got [])"
    )
