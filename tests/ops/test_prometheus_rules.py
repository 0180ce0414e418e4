"""The alerting rules: promtool accepts them, they fire on their series, the shipped file is current."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ops_support import RULES_FILE, promtool

from stagewise._exceptions import ConfigError
from stagewise.ops import metric_names, prometheus_rules, rules_text


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    for variant in (
        prometheus_rules(),
        prometheus_rules(for_override="0s", window="1m", evaluation_interval="1s"),
    ):
        path = tmp_path / "rules.yml"
        path.write_text(rules_text(variant))
        checked = _check(path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "SUCCESS: 9 rules found" in checked.stdout


def test_promtool_refuses_a_broken_rule_so_the_check_can_fail(tmp_path: Path) -> None:
    rules = prometheus_rules()
    rules["groups"][0]["rules"][0]["expr"] = "sum by (domain (stagewise_monitor_alerts_firing)"
    path = tmp_path / "broken.yml"
    path.write_text(rules_text(rules))
    checked = _check(path)
    assert checked.returncode != 0
    assert "parse error" in (checked.stdout + checked.stderr)


def test_the_shipped_rule_file_is_the_generated_one() -> None:
    assert RULES_FILE.read_text(encoding="utf-8") == rules_text(), (
        "ops/prometheus/stagewise-rules.yml is stale: regenerate it with "
        "`stagewise ops prometheus-rules --output ops/prometheus/stagewise-rules.yml`"
    )
    checked = _check(RULES_FILE)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_rule_says_how_bad_and_what_to_do() -> None:
    rules = [r for g in prometheus_rules()["groups"] for r in g["rules"]]
    assert len({r["alert"] for r in rules}) == len(rules)
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
        assert metric_names(rule["expr"]), rule["alert"]
    covered = {name for r in rules for name in metric_names(r["expr"])}
    # the list: monitor alerts, queue shedding / rejection, model load failures, rollback and kill
    assert {
        "stagewise_monitor_alerts_firing",
        "stagewise_predictions_shed_total",
        "stagewise_ledger_rows_rejected_total",
        "stagewise_model_load_failures_total",
        "stagewise_rollout_rollbacks_total",
        "stagewise_rollout_killed",
    } <= covered


SERIES = [
    ('stagewise_predictions_shed_total{instance="a"}', "0 0 0 5 5 5"),
    ('stagewise_model_load_failures_total{instance="a", role="challenger"}', "0 0 1 1 1 1"),
    ('stagewise_rollout_killed{feature="calib"}', "0 0 0 0 1 1"),
    ('stagewise_log_queue_depth{instance="a"}', "10 10 10 10 10 10"),
    ('stagewise_log_queue_capacity{instance="a"}', "100000 100000 100000 100000 100000 100000"),
]
# (minute, alert, labels of the one alert expected then, or None for "not firing")
EXPECTED: list[tuple[int, str, dict[str, str] | None]] = [
    (2, "StagewisePredictionsShed", None),
    (4, "StagewisePredictionsShed", {"instance": "a"}),
    (3, "StagewiseModelLoadFailed", {"instance": "a", "role": "challenger"}),
    (3, "StagewiseRolloutKilled", None),
    (5, "StagewiseRolloutKilled", {"feature": "calib"}),
    (5, "StagewiseLogQueueFilling", None),
]


def _alert_test(
    rules: dict[str, dict[str, object]], minute: int, name: str, labels: dict[str, str] | None
) -> object:
    if labels is None:
        return {"eval_time": f"{minute}m", "alertname": name, "exp_alerts": []}
    rule = rules[name]
    annotations = {}
    for key, template in rule["annotations"].items():  # type: ignore[attr-defined]
        for label, value in labels.items():
            template = template.replace("{{ $labels." + label + " }}", value)
        annotations[key] = template
    return {
        "eval_time": f"{minute}m",
        "alertname": name,
        "exp_alerts": [{"exp_labels": {**rule["labels"], **labels}, "exp_annotations": annotations}],  # type: ignore[dict-item]
    }


def test_the_rules_fire_on_their_series_and_stay_quiet_otherwise(tmp_path: Path) -> None:
    generated = prometheus_rules(window="10m")
    rules_path = tmp_path / "rules.yml"
    rules_path.write_text(rules_text(generated))
    by_name = {r["alert"]: dict(r) for g in generated["groups"] for r in g["rules"]}
    spec = {
        "rule_files": [str(rules_path)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in SERIES],
                "alert_rule_test": [_alert_test(by_name, m, n, labels) for m, n, labels in EXPECTED],
            }
        ],
    }
    spec_path = tmp_path / "rules_test.yml"
    spec_path.write_text(json.dumps(spec))  # JSON is YAML
    tested = subprocess.run(
        [promtool(), "test", "rules", str(spec_path)], capture_output=True, text=True, timeout=60
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"window": "ten"}, "window"), ({"for_override": "5"}, "for_override")]
)
def test_a_bad_duration_is_refused_naming_it(kwargs: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=f"'{name}' must be a Prometheus duration"):
        prometheus_rules(**kwargs)  # type: ignore[arg-type]
