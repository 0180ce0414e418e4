"""``/v1/analysis/{feature}``: shapes for Argo Rollouts and Flagger, read-only, cached, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from analysis_support import argo_condition
from serve_support import TOKEN, TestClient

from stagewise.rollout import GradualRollout
from stagewise.serve import ServeSettings, create_app

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def served(make_settings: Callable[..., ServeSettings], tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings()
    GradualRollout(settings.rollout_config, actor="test").add_feature(
        "challenger_model", "10%", reason="canary"
    )
    app = create_app(settings, admin_token=TOKEN)
    with TestClient(app) as client:
        yield client


def test_a_new_rollout_is_inconclusive_and_argo_conditions_read_it(served: TestClient) -> None:
    answer = served.get("/v1/analysis/challenger_model")
    assert answer.status_code == 200
    body = answer.json()
    assert body["verdict"] == "inconclusive"
    assert (body["action"], body["stage"], body["killed"]) == ("hold", "10%", False)
    assert body["reasons"]
    assert body["format_version"] == 1
    assert {"healthy_streak", "challenger_hit_rate_1st", "harm_p_value_hit_rate_1st"} <= set(body["summary"])
    assert argo_condition('result.verdict == "success"', body) is False
    assert argo_condition('result.verdict == "failure"', body) is False
    assert argo_condition('result.verdict != "failure" && result.killed == false', body) is True
    # Flagger: a confirm-promotion hook waits, a rollout hook passes
    assert served.post("/v1/analysis/challenger_model/gate", json={"name": "podinfo"}).status_code == 412
    assert served.get("/v1/analysis/challenger_model/gate?mode=rollout").status_code == 200


def test_the_kill_switch_is_a_failure_for_both_controllers(served: TestClient) -> None:
    assert served.get("/v1/analysis/challenger_model").headers["X-Stagewise-Cache"] == "miss"
    assert served.get("/v1/analysis/challenger_model").headers["X-Stagewise-Cache"] == "hit"
    killed = served.post("/admin/kill", json={"reason": "pager"}, headers=AUTH)
    assert killed.status_code == 200
    answer = served.get("/v1/analysis/challenger_model")
    assert answer.headers["X-Stagewise-Cache"] == "miss"  # a new stage is a new decision
    body = answer.json()
    assert (body["verdict"], body["action"], body["killed"]) == ("failure", "none", True)
    assert argo_condition('result.verdict == "failure"', body) is True
    for mode in ("promotion", "rollout"):
        assert served.post(f"/v1/analysis/challenger_model/gate?mode={mode}").status_code == 412


def test_asking_changes_nothing_stored(
    served: TestClient, make_settings: Callable[..., ServeSettings]
) -> None:
    config = Path(make_settings().rollout_config)
    before = config.read_bytes()
    audit = GradualRollout(config).audit_log()
    for _ in range(3):
        assert served.get("/v1/analysis/challenger_model?days_healthy=1").status_code == 200
        assert served.post("/v1/analysis/challenger_model/gate?mode=rollout").status_code == 200
    assert config.read_bytes() == before
    assert GradualRollout(config).audit_log() == audit


def test_an_unknown_feature_is_a_404_naming_the_known_ones(served: TestClient) -> None:
    for answer in (served.get("/v1/analysis/nope"), served.post("/v1/analysis/nope/gate")):
        assert answer.status_code == 404
        message = answer.json()["message"]
        assert "'nope'" in message
        assert "known features: ['challenger_model']" in message


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("days_healthy=0", "days_healthy"),
        ("alpha=1.5", "alpha"),
        ("health_window=x", "health_window"),
        ("mode=sometimes", "mode"),
        ("health_window=7&max_health_window=3", "max_health_window"),
    ],
)
def test_a_bad_query_parameter_is_a_422_naming_it(served: TestClient, query: str, field: str) -> None:
    answer = served.get(f"/v1/analysis/challenger_model/gate?{query}")
    assert answer.status_code == 422
    assert field in answer.json()["message"]


def test_the_routes_are_in_the_openapi_spec(served: TestClient) -> None:
    spec = served.get("/openapi.json").json()
    assert "get" in spec["paths"]["/v1/analysis/{feature}"]
    assert {"get", "post"} <= set(spec["paths"]["/v1/analysis/{feature}/gate"])
    assert json.dumps(spec).count("AnalysisResponse") >= 2


def test_the_argo_condition_evaluator_errors_on_a_missing_field() -> None:
    with pytest.raises(KeyError, match="verdikt"):
        argo_condition('result.verdikt == "success"', {"verdict": "success"})
    with pytest.raises(ValueError, match="not a supported condition"):
        argo_condition("len(result) > 0", {"verdict": "success"})
    assert argo_condition("result.a.b == 2 || result.c == 'x'", {"a": {"b": 2.0}, "c": "y"}) is True


def test_a_day_waiting_for_results_is_asked_again_and_a_complete_one_is_cached(
    served: TestClient, make_settings: Callable[..., ServeSettings]
) -> None:
    from datetime import datetime, timedelta

    from stagewise.monitor import PerformanceMonitor

    service = served.app.state.analysis  # type: ignore[attr-defined]
    later = datetime.now().astimezone() + timedelta(days=2)
    service.clock = lambda: later  # the feature was enabled today; "yesterday" is tomorrow
    service.pending_ttl_s = 0.0
    race = {
        "race_id": "late-1", "race_date": (later - timedelta(days=1)).date().isoformat(), "venue_code": 1,
        "race_number": 1, "predictions": [1, 2, 3, 4, 5, 6], "variant": "on", "model_version": "v2",
    }  # fmt: skip
    monitor = PerformanceMonitor(make_settings().db_url)
    monitor.log_predictions([race])  # its result is not in yet
    first = served.get("/v1/analysis/challenger_model")
    assert first.json()["summary"]["pending_days"] == 1
    assert served.get("/v1/analysis/challenger_model").headers["X-Stagewise-Cache"] == "miss"
    monitor.log_result("late-1", {p: p for p in range(1, 7)})
    monitor.close()
    settled = served.get("/v1/analysis/challenger_model")
    assert settled.headers["X-Stagewise-Cache"] == "miss"
    assert settled.json()["summary"]["pending_days"] == 0
    assert served.get("/v1/analysis/challenger_model").headers["X-Stagewise-Cache"] == "hit"
