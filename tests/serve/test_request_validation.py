"""Bad input is a 422 (or 413) naming the field, never a 500, and nothing is logged for it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_support import TestClient, race_payloads, request_body

GOOD = request_body(race_payloads(1, prefix="valid-")[0])


def _mutate(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(GOOD)
    change(body)
    return body


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        node: Any = body
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return change


BAD_RACES = [
    pytest.param(_mutate(lambda b: b["entries"].pop()), "entries", id="five-boats"),
    pytest.param(_mutate(lambda b: b["entries"].append(dict(b["entries"][0]))), "entries", id="seven-boats"),
    pytest.param(_mutate(_set("entries.1.pit", 1)), "pit", id="duplicate-pits"),
    pytest.param(_mutate(_set("entries.2.pit", 7)), "entries.2.pit", id="pit-7"),
    pytest.param(
        _mutate(_set("entries.0.national_win_rate", "7.1")), "entries.0.national_win_rate", id="string-number"
    ),
    pytest.param(_mutate(_set("venue_code", "1")), "venue_code", id="string-venue"),
    pytest.param(_mutate(_set("venue_code", 25)), "venue_code", id="venue-25"),
    pytest.param(_mutate(_set("race_number", 1.5)), "race_number", id="float-race-number"),
    pytest.param(_mutate(_set("entries.3.racer_class", "S1")), "entries.3.racer_class", id="bad-class"),
    pytest.param(
        _mutate(_set("entries.4.exhibition_time", 99.0)), "entries.4.exhibition_time", id="out-of-range"
    ),
    pytest.param(_mutate(_set("entries.4.motor_2rate", None)), "entries.4.motor_2rate", id="null-number"),
    pytest.param(_mutate(_set("surprise", 1)), "surprise", id="unknown-top-field"),
    pytest.param(_mutate(_set("entries.0.odds", 1.5)), "entries.0.odds", id="unknown-entry-field"),
    pytest.param(_mutate(lambda b: b.pop("race_id")), "race_id", id="missing-race-id"),
    pytest.param(_mutate(_set("race_id", "")), "race_id", id="empty-race-id"),
    pytest.param(_mutate(_set("race_date", "2025-13-45")), "race_date", id="bad-date"),
    pytest.param(_mutate(_set("entries", {"pit": 1})), "entries", id="entries-not-a-list"),
    pytest.param([1, 2, 3], "body", id="array-body"),
    pytest.param(_mutate(_set("win_odds", [2.0, 3.0, 0.8, 5.0, 9.0, 20.0])), "win_odds.2", id="odds-below-1"),
    pytest.param(_mutate(_set("win_odds", [2.0, 3.0, 5.0])), "win_odds", id="odds-for-3-pits"),
    pytest.param(_mutate(_set("stake", 100.0)), "win_odds", id="stake-without-odds"),
    pytest.param(_mutate(lambda b: b.update(win_odds=[2.0] * 6, stake=0.0)), "stake", id="stake-0"),
]


@pytest.fixture(scope="module")
def shared_client(built_registry: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from stagewise.serve import ServeSettings, create_app

    root = tmp_path_factory.mktemp("validation")
    settings = ServeSettings(
        models_dir=str(built_registry[0]),
        db_url=f"sqlite:///{root / 'monitor.db'}",
        rollout_config=str(root / "rollout_config.json"),
        max_body_bytes=64 * 1024,
    )
    with TestClient(create_app(settings, admin_token=None)) as c:
        yield c


@pytest.mark.parametrize(("body", "field"), BAD_RACES)
def test_bad_race_is_422_naming_the_field(shared_client: TestClient, body: Any, field: str) -> None:
    answer = shared_client.post("/v1/races/predict", json=body)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["message"]
    assert answer.json()["detail"], "the detail lists each error with its location"


def test_nan_and_infinity_literals_are_422(shared_client: TestClient) -> None:
    for literal in ("NaN", "Infinity", "-Infinity"):
        text = json.dumps(GOOD).replace(
            '"avg_start_timing": ' + json.dumps(GOOD["entries"][0]["avg_start_timing"]),
            f'"avg_start_timing": {literal}',
            1,
        )
        assert literal in text
        answer = shared_client.post(
            "/v1/races/predict", content=text, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422, answer.text
        assert "entries.0.avg_start_timing" in answer.json()["message"]


def test_invalid_json_is_422(shared_client: TestClient) -> None:
    answer = shared_client.post(
        "/v1/races/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422


def test_a_10mb_body_is_413_before_parsing(shared_client: TestClient) -> None:
    big = b'{"race_id": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    answer = shared_client.post(
        "/v1/races/predict", content=big, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert "65536" in answer.json()["message"]


def test_a_streamed_body_without_length_is_cut_at_the_limit(shared_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"race_id": "'
        for _ in range(100):
            yield b"x" * 4096
        yield b'"}'

    answer = shared_client.post(
        "/v1/races/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(
            {"race_id": "r", "results": [{"pit": 1, "rank": 1}, {"pit": 1, "rank": 2}]},
            "results",
            id="dup-pit",
        ),
        pytest.param(
            {"race_id": "r", "results": [{"pit": 1, "rank": 1}, {"pit": 2, "rank": 1}]},
            "results",
            id="dup-rank",
        ),
        pytest.param({"race_id": "r", "results": [{"pit": 1, "status": "X"}]}, "results.0", id="bad-status"),
        pytest.param({"race_id": "r", "results": [{"pit": 1}]}, "results.0", id="finished-without-rank"),
        pytest.param(
            {"race_id": "r", "results": [{"pit": 1, "rank": 2, "status": "F"}]}, "results.0", id="rank-and-F"
        ),
        pytest.param({"race_id": "r", "results": []}, "results", id="empty"),
        pytest.param(
            {"race_id": "r", "results": [{"pit": "1", "rank": 1}]}, "results.0.pit", id="string-pit"
        ),
    ],
)
def test_bad_results_are_422(shared_client: TestClient, body: Any, field: str) -> None:
    answer = shared_client.post("/v1/results", json=body)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"symbol": "X"}, "exactly one", id="neither"),
        pytest.param(
            {"symbol": "X", "timestamp": "2025-01-01T00:00:00", "features": {"close": 1.0}},
            "missing",
            id="few-features",
        ),
        pytest.param({"symbol": "X", "features": {}}, "timestamp", id="features-without-time"),
        pytest.param(
            {
                "symbol": "X",
                "bars": [
                    {
                        "timestamp": "2025-01-01T00:00:00",
                        "open": -1,
                        "high": 1,
                        "low": 1,
                        "close": 1,
                        "volume": 1,
                    }
                ],
            },
            "bars.0.open",
            id="negative-price",
        ),
    ],
)
def test_bad_market_requests_are_422(shared_client: TestClient, body: Any, field: str) -> None:
    answer = shared_client.post("/v1/markets/predict", json=body)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["message"]


def test_nothing_was_logged_for_refused_requests(shared_client: TestClient) -> None:
    stats = shared_client.app.state.service.queue.stats()  # type: ignore[attr-defined]
    assert stats.accepted == stats.written  # only the valid requests reached the ledger queue


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=7) | st.dictionaries(st.text(max_size=10), inner, max_size=7),
    max_leaves=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(
        [
            "race_id",
            "race_date",
            "venue_code",
            "race_number",
            "entries",
            "entries.0",
            "entries.2.pit",
            "entries.5.exhibition_time",
            "entries.1.racer_class",
        ]
    ),
    value=_JSON,
)
def test_any_value_anywhere_is_never_a_500(shared_client: TestClient, path: str, value: Any) -> None:
    body = _mutate(_set(path, value))
    answer = shared_client.post("/v1/races/predict", json=body)
    assert answer.status_code in (200, 422), answer.text
