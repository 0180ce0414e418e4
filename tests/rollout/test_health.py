"""Health verdicts: the seed's threshold table at its exact boundaries, sample size, per-domain policies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stagewise import ConfigError, DataValidationError
from stagewise.rollout.health import RACES_POLICY, HealthPolicy, evaluate_health, load_policy

NOW = datetime(2025, 12, 2, 16, 12, 2, tzinfo=UTC)
GOOD = {
    "hit_rate_1st": 0.25,
    "hit_rate_top3": 0.10,
    "avg_score_accuracy": 0.70,
    "error_rate": 0.02,
    "total_races": 300,
}


POINT = RACES_POLICY.model_copy(update={"critical_rule": "point"})


def verdict(policy: HealthPolicy = RACES_POLICY, **changes: Any) -> dict[str, Any]:
    return evaluate_health({**GOOD, **changes}, policy, feature_name="f", now=NOW, next_stage="50%")


def test_the_seed_example_is_healthy_with_every_key_of_the_seed_shape() -> None:
    result = verdict()
    assert set(result) == {
        "feature_name",
        "status",
        "action",
        "issues",
        "warnings",
        "recommendations",
        "metrics",
        "checked_at",
    }
    assert result["status"] == "HEALTHY"
    assert result["action"] == "PROCEED_TO_NEXT_STAGE"
    assert result["issues"] == []
    assert result["warnings"] == []
    assert result["recommendations"] == ["advance f to 50%"]
    assert result["checked_at"] == "2025-12-02T16:12:02+00:00"


@pytest.mark.parametrize(
    ("metric", "value", "status"),
    [
        ("hit_rate_1st", 0.20, "HEALTHY"),
        ("hit_rate_1st", 0.1999, "WARNING"),
        ("hit_rate_1st", 0.15, "WARNING"),
        ("hit_rate_1st", 0.1499, "CRITICAL"),
        ("hit_rate_top3", 0.05, "HEALTHY"),
        ("hit_rate_top3", 0.0499, "CRITICAL"),
        ("avg_score_accuracy", 0.65, "HEALTHY"),
        ("avg_score_accuracy", 0.6499, "WARNING"),
        ("avg_score_accuracy", 0.60, "WARNING"),
        ("avg_score_accuracy", 0.5999, "CRITICAL"),
        ("error_rate", 0.0999, "HEALTHY"),
        ("error_rate", 0.10, "CRITICAL"),  # the seed's code said > 0.1; its table says >= 10 %
    ],
)
def test_seed_threshold_table_boundaries(metric: str, value: float, status: str) -> None:
    result = verdict(POINT, **{metric: value})  # the seed's comparison of point values
    assert result["status"] == status
    if status == "CRITICAL":
        assert result["action"] == "ROLLBACK"
        assert len(result["issues"]) == 1
    if status == "WARNING":
        assert result["action"] == "CONTINUE_MONITORING"
        assert len(result["warnings"]) == 1


@pytest.mark.parametrize(
    ("metric", "value", "races", "point", "upper_bound"),
    [
        # a baseline-level challenger's noisy week: 4 trifectas in 112 races, 95 % upper bound 8.8 %
        ("hit_rate_top3", 4 / 112, 112, "CRITICAL", "WARNING"),
        ("hit_rate_top3", 0 / 112, 112, "CRITICAL", "CRITICAL"),  # upper bound 3.3 % < 5 %
        ("hit_rate_1st", 16 / 112, 112, "CRITICAL", "WARNING"),  # 14.3 %, upper bound 21.8 %
        ("hit_rate_1st", 15 / 300, 300, "CRITICAL", "CRITICAL"),  # 5 %, upper bound 8.1 %
        ("hit_rate_1st", 44 / 300, 300, "CRITICAL", "WARNING"),  # 14.7 %: the seed's line, not past it
        ("error_rate", 12 / 100, 100, "CRITICAL", "WARNING"),  # lower bound 7.0 % < 10 %
        ("error_rate", 30 / 100, 100, "CRITICAL", "CRITICAL"),  # lower bound 22 %
        ("avg_score_accuracy", 0.59, 112, "CRITICAL", "CRITICAL"),  # a mean: point value either way
    ],
    ids=[
        "trifecta-noise",
        "trifecta-zero",
        "win-noise",
        "win-clear",
        "win-at-the-line",
        "errors-noise",
        "errors-clear",
        "score-mean",
    ],
)
def test_upper_bound_rule_rolls_back_only_what_the_sample_shows(
    metric: str, value: float, races: int, point: str, upper_bound: str
) -> None:
    assert verdict(POINT, **{metric: value}, total_races=races)["status"] == point
    result = verdict(**{metric: value}, total_races=races)
    assert RACES_POLICY.critical_rule == "upper_bound"  # the default
    assert result["status"] == upper_bound
    if upper_bound == "WARNING":
        assert result["issues"] == []
        assert result["action"] == "CONTINUE_MONITORING"
        assert any(f"bound over {races} total_races" in w for w in result["warnings"])


def test_the_seed_call_without_a_sample_size_compares_point_values_under_either_rule() -> None:
    metrics = {k: v for k, v in GOOD.items() if k != "total_races"}
    for policy in (RACES_POLICY, POINT):
        result = evaluate_health({**metrics, "hit_rate_top3": 0.0499}, policy, feature_name="f", now=NOW)
        assert result["status"] == "CRITICAL"
        assert result["issues"] == ["trifecta hit rate 4.99% < 5.00% (CRITICAL)"]
    warning = evaluate_health(metrics, feature_name="f", now=NOW)["warnings"][0]
    assert warning.endswith("; CRITICAL compares point values")


def test_the_critical_rule_is_validated_wherever_it_is_set(tmp_path: Path) -> None:
    assert load_policy("races", critical_rule="point").critical_rule == "point"
    assert load_policy(None).critical_rule == "upper_bound"
    with pytest.raises(
        ConfigError, match=r"--critical-rule\) must be 'point' or 'upper_bound'. Got 'wilson'"
    ):
        load_policy("races", critical_rule="wilson")
    path = tmp_path / "policy.json"
    doc = RACES_POLICY.model_dump()
    path.write_text(json.dumps({**doc, "critical_rule": "point"}))
    assert load_policy(path).critical_rule == "point"
    path.write_text(json.dumps({**doc, "critical_rule": "sometimes"}))
    with pytest.raises(ConfigError, match="critical_rule"):
        load_policy(path)
    bad_rule = {"metric": "score", "label": "s", "critical": 0.5, "rate": False, "proportion": True}
    with pytest.raises(ConfigError, match="'proportion' needs 'rate'"):
        load_policy({"domain": "x", "rules": [bad_rule]})


def test_critical_wins_over_warning_and_lists_every_reason() -> None:
    result = verdict(hit_rate_1st=0.17, hit_rate_top3=0.01)
    assert result["status"] == "CRITICAL"
    assert result["issues"] == ["trifecta hit rate 1.00% < 5.00% (CRITICAL)"]
    assert result["warnings"] == ["win hit rate 17.00% < 20.00% (WARNING)"]


def test_below_the_minimum_sample_the_verdict_is_withheld() -> None:
    result = verdict(total_races=40, hit_rate_1st=0.05)
    assert result["status"] == "INSUFFICIENT_DATA"
    assert result["action"] == "WAIT_FOR_MORE_DATA"
    assert "only 40 total_races (< 100)" in result["warnings"][0]


def test_error_rate_is_critical_even_on_a_small_sample() -> None:
    assert verdict(total_races=5, error_rate=0.5)["status"] == "CRITICAL"


def test_without_a_sample_size_the_seed_call_still_works_and_says_so() -> None:
    metrics = {k: v for k, v in GOOD.items() if k != "total_races"}
    result = evaluate_health(metrics, feature_name="f", now=NOW)
    assert result["status"] == "HEALTHY"
    assert "total_races was not given" in result["warnings"][0]


def test_japanese_labels() -> None:
    result = evaluate_health({**GOOD, "hit_rate_1st": 0.1}, feature_name="f", now=NOW, lang="ja")
    assert result["issues"] == ["1着的中率 10.00% < 15.00% (CRITICAL)"]


@pytest.mark.parametrize(
    ("metrics", "match"),
    [
        ({"hit_rate_1st": 0.2}, "lacks hit_rate_top3, avg_score_accuracy, error_rate"),
        ({**GOOD, "hit_rate_1st": "high"}, r"metrics\['hit_rate_1st'\] must be a finite number. Got 'high'"),
        ({**GOOD, "hit_rate_1st": 25.0}, r"rate in \[0, 1\]. Got 25.0"),
        ({**GOOD, "error_rate": float("nan")}, "finite"),
        ({**GOOD, "total_races": -1}, "total_races"),
    ],
    ids=["missing", "text", "percent-not-rate", "nan", "negative-sample"],
)
def test_bad_metrics_are_named(metrics: dict[str, Any], match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        evaluate_health(metrics, feature_name="f", now=NOW)


def test_policy_per_domain_from_json(tmp_path: Path) -> None:
    doc = {
        "domain": "markets",
        "min_sample": 500,
        "sample_metric": "total_bars",
        "rules": [
            {
                "metric": "direction_accuracy",
                "label": "direction accuracy",
                "warning": 0.51,
                "critical": 0.49,
            },
            {
                "metric": "error_rate",
                "label": "error rate",
                "higher_is_better": False,
                "critical": 0.05,
                "needs_sample": False,
            },
        ],
    }
    path = tmp_path / "markets.json"
    path.write_text(json.dumps(doc))
    policy = load_policy(path)
    metrics = {"direction_accuracy": 0.50, "error_rate": 0.0, "total_bars": 1000}
    assert evaluate_health(metrics, policy, feature_name="m", now=NOW)["status"] == "WARNING"
    assert load_policy("races") is RACES_POLICY


@pytest.mark.parametrize(
    "doc",
    [
        {"domain": "x", "rules": []},
        {"domain": "x", "rules": [{"metric": "a", "label": "a", "warning": 0.1, "critical": 0.2}]},
        {"domain": "x", "rules": [{"metric": "a", "label": "a", "critical": 0.2, "typo": 1}]},
    ],
    ids=["no-rules", "warning-below-critical", "unknown-key"],
)
def test_invalid_policies_are_refused(doc: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="Invalid health policy"):
        load_policy(doc)


def test_unknown_policy_name() -> None:
    with pytest.raises(ConfigError, match="neither a built-in domain"):
        load_policy("cricket")
