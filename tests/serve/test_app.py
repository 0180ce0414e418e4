"""Every route through FastAPI's TestClient, against a real registry and a real SQLite ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_support import TestClient, count_predictions, race_payloads, request_body

from stagewise.data import synthetic_bars
from stagewise.features.races import race_entry_features
from stagewise.features.technical import FEATURE_NAMES, TechnicalIndicators
from stagewise.models import ModelRegistry, rank_races
from stagewise.monitor import PerformanceMonitor
from stagewise.serve import ServeSettings, create_app


def test_race_prediction_matches_the_library_and_is_logged(
    make_settings: Callable[..., ServeSettings], models_dir: Any, versions: dict[str, str]
) -> None:
    settings = make_settings()
    payloads = race_payloads(12)
    with TestClient(create_app(settings, admin_token=None)) as client:
        answers = [client.post("/v1/races/predict", json=request_body(p)) for p in payloads]
    assert [a.status_code for a in answers] == [200] * 12
    model = ModelRegistry(models_dir).load("champion")
    for payload, answer in zip(payloads, answers, strict=True):
        body = answer.json()
        assert body["model"] == {"role": "champion", "version": versions["champion"], "variant": "control"}
        assert body["logged"] is True
        assert body["shadow"] is None
        entries = pd.DataFrame(payload["entries"]).assign(
            race_id=payload["race_id"], venue_code=payload["venue_code"]
        )
        expected = rank_races(model, entries, race_entry_features(entries))
        assert body["predicted_order"] == expected["pit"].tolist()
        got = {b["pit"]: b for b in body["boats"]}
        for row in expected.itertuples():
            # 1e-6: the contract of the compiled fast path that may stand in for predict_proba
            assert got[row.pit]["score"] == pytest.approx(row.score, abs=1e-6)
            assert got[row.pit]["win_prob"] == pytest.approx(row.win_prob, abs=1e-6)
            assert got[row.pit]["predicted_rank"] == row.predicted_rank
        assert sum(b["win_prob"] for b in body["boats"]) == pytest.approx(1.0)
    # the lifespan shutdown drained the queue: one ledger row per answer
    assert count_predictions(settings.db_url or "", variant="control") == 12


def test_shadow_mode_logs_both_models_and_answers_with_the_routed_one(
    make_settings: Callable[..., ServeSettings], versions: dict[str, str]
) -> None:
    settings = make_settings(shadow=True)
    payloads = race_payloads(6, prefix="shadow-")
    with TestClient(create_app(settings, admin_token=None)) as client:
        bodies = [client.post("/v1/races/predict", json=request_body(p)).json() for p in payloads]
    assert all(b["model"]["version"] == versions["champion"] for b in bodies)
    assert all(
        b["shadow"] == {"role": "challenger", "version": versions["challenger"], "variant": "shadow"}
        for b in bodies
    )
    url = settings.db_url or ""
    assert count_predictions(url, variant="control") == 6
    assert count_predictions(url, variant="shadow", model_version=versions["challenger"]) == 6


def test_results_are_joined_to_logged_predictions(client: TestClient) -> None:
    payload = race_payloads(1, prefix="res-")[0]
    assert client.post("/v1/races/predict", json=request_body(payload)).status_code == 200
    answer = client.post("/v1/results", json={"race_id": payload["race_id"], "results": payload["_result"]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"race_id": payload["race_id"], "predictions_rescored": 1, "changed": True}
    again = client.post("/v1/results", json={"race_id": payload["race_id"], "results": payload["_result"]})
    assert again.json()["changed"] is False
    service = client.app.state.service  # type: ignore[attr-defined]
    with PerformanceMonitor(service.settings.db_url) as monitor:
        day = payload["race_date"]
        outcomes = monitor.race_outcomes(day, day)
    assert outcomes["status"].tolist() == ["settled"]


def test_the_pick_s_odds_are_logged_and_settled_as_profit_per_unit(client: TestClient) -> None:
    payload = race_payloads(1, prefix="money-")[0]
    odds = [1.0, 3.5, 6.2, 9.9, 14.0, 31.5]  # pits 1-6, a pre-close snapshot
    answer = client.post(
        "/v1/races/predict", json={**request_body(payload), "win_odds": odds, "stake": 200.0}
    )
    assert answer.status_code == 200, answer.text
    pick = answer.json()["predicted_order"][0]
    assert client.post("/v1/results", json={"race_id": payload["race_id"], "results": payload["_result"]})
    service = client.app.state.service  # type: ignore[attr-defined]
    with PerformanceMonitor(service.settings.db_url) as monitor:
        row = monitor.race_outcomes(payload["race_date"], payload["race_date"]).iloc[0]
    finish = next(r for r in payload["_result"] if r["pit"] == pick)
    assert (row["bet_odds"], row["bet_stake"]) == (odds[pick - 1], 200.0)
    if finish.get("status") in ("F", "L", "欠"):  # the pick did not start: refunded, no profit
        assert np.isnan(row["bet_profit"])
    else:
        assert row["bet_profit"] == pytest.approx(odds[pick - 1] - 1.0 if finish.get("rank") == 1 else -1.0)


def test_results_for_an_unknown_race_is_404_naming_it(client: TestClient) -> None:
    answer = client.post(
        "/v1/results", json={"race_id": "never-predicted", "results": [{"pit": 1, "rank": 1}]}
    )
    assert answer.status_code == 404
    assert "never-predicted" in answer.json()["message"]


def test_market_prediction_from_bars_and_from_features_agree(
    client: TestClient, versions: dict[str, str]
) -> None:
    bars = synthetic_bars(120, seed=5)
    rows = [
        {
            "timestamp": ts.isoformat(),
            **{c: float(bars.at[ts, c]) for c in ("open", "high", "low", "close", "volume")},
        }
        for ts in bars.index
    ]
    from_bars = client.post("/v1/markets/predict", json={"symbol": "EURUSD", "bars": rows})
    assert from_bars.status_code == 200, from_bars.text
    features = TechnicalIndicators().generate_all_features(bars).iloc[-1]
    from_features = client.post(
        "/v1/markets/predict",
        json={
            "symbol": "EURUSD",
            "timestamp": bars.index[-1].isoformat(),
            "features": {n: float(features[n]) for n in FEATURE_NAMES},
        },
    )
    assert from_features.status_code == 200, from_features.text
    a, b = from_bars.json(), from_features.json()
    assert a["probability"] == pytest.approx(b["probability"], abs=1e-9)
    assert a["signal"] == int(a["probability"] > 0.5)
    assert a["model"] == {"role": "market", "version": versions["market"], "variant": "control"}
    assert pd.Timestamp(a["timestamp"]) == bars.index[-1]


def test_market_prediction_with_too_few_bars_is_422(client: TestClient) -> None:
    bars = synthetic_bars(20, seed=1)
    rows = [
        {"timestamp": ts.isoformat(), **{c: float(v) for c, v in bars.loc[ts].items()}} for ts in bars.index
    ]
    answer = client.post("/v1/markets/predict", json={"symbol": "X", "bars": rows})
    assert answer.status_code == 422
    assert "bars" in answer.json()["message"]
    assert "50" in answer.json()["message"]


def test_healthz_readyz_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    report = ready.json()
    assert report["ready"] is True
    assert set(report["models"]) == {"champion", "challenger", "market"}
    assert all(m["verified_files"] >= 5 for m in report["models"].values())
    payload = race_payloads(1, prefix="metrics-")[0]
    client.post("/v1/races/predict", json=request_body(payload))
    client.post("/v1/races/predict", json={"nope": 1})
    text = client.get("/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    champion = client.get("/readyz").json()["models"]["champion"]["version"]
    ok = (("method", "POST"), ("model_version", champion), ("route", "/v1/races/predict"), ("status", "200"))
    assert samples[("stagewise_http_requests_total", (*ok, ("variant", "control")))] == 1.0
    refused = (
        ("method", "POST"),
        ("model_version", "none"),
        ("route", "/v1/races/predict"),
        ("status", "422"),
    )
    assert samples[("stagewise_http_requests_total", (*refused, ("variant", "none")))] == 1.0
    answered = (
        ("domain", "races"),
        ("mode", "answered"),
        ("model_version", champion),
        ("variant", "control"),
    )
    assert samples[("stagewise_predictions_total", answered)] == 1.0
    assert samples[("stagewise_predictions_shed_total", ())] == 0.0
    latency = {k[1] for k in samples if k[0] == "stagewise_http_request_duration_seconds_count"}
    assert (
        ("method", "POST"),
        ("model_version", champion),
        ("route", "/v1/races/predict"),
        ("variant", "control"),
    ) in latency
    assert payload["race_id"] not in text  # race ids never become labels


def test_readyz_is_503_with_reasons_without_a_champion_or_database(
    make_settings: Callable[..., ServeSettings], tmp_path: Any
) -> None:
    settings = make_settings(
        champion_ref="no-such-alias", db_url="postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    with TestClient(create_app(settings, admin_token=None)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        reasons = " ".join(ready.json()["reasons"])
        assert "champion not loaded" in reasons
        assert "no-such-alias" in reasons
        assert "database unreachable" in reasons
        answer = client.post("/v1/races/predict", json=request_body(race_payloads(1)[0]))
        assert answer.status_code == 503
        assert "no champion model" in answer.json()["message"]


def test_a_tampered_model_file_is_refused_at_load(
    make_settings: Callable[..., ServeSettings], models_dir: Any, versions: dict[str, str]
) -> None:
    target = next((models_dir / "training" / versions["challenger"]).glob("lightgbm*"))
    target.write_bytes(target.read_bytes() + b"\n")
    with TestClient(create_app(make_settings(), admin_token=None)) as client:
        report = client.get("/readyz").json()
    assert "challenger" not in report["models"]
    assert "challenger" in report["model_errors"]


def test_rank_one_race_agrees_with_rank_races_on_ties_and_zeros() -> None:
    from stagewise.serve.service import rank_one_race

    rng = np.random.default_rng(0)
    for scores in [np.zeros(6), np.array([0.3, 0.3, 0.1, 0.1, 0.1, 0.1]), *rng.random((20, 6))]:
        pits = np.arange(1, 7)
        order, prob = rank_one_race(scores, pits)

        class Fixed:
            def predict_proba(self, X: Any, s: np.ndarray = scores) -> np.ndarray:
                return np.column_stack([1 - s, s])

        expected = rank_races(Fixed(), pd.DataFrame({"race_id": ["r"] * 6, "pit": pits}), np.zeros((6, 1)))
        assert pits[order].tolist() == expected["pit"].tolist()
        assert prob[order].tolist() == pytest.approx(expected["win_prob"].tolist())


def test_predictions_are_answered_and_results_are_503_while_the_database_is_down(
    make_settings: Callable[..., ServeSettings],
) -> None:
    settings = make_settings(db_url="postgresql+psycopg://nobody@127.0.0.1:1/none", drain_timeout_s=0.5)
    payload = race_payloads(1, prefix="down-")[0]
    with TestClient(create_app(settings, admin_token=None)) as client:
        assert client.post("/v1/races/predict", json=request_body(payload)).status_code == 200
        answer = client.post(
            "/v1/results", json={"race_id": payload["race_id"], "results": payload["_result"]}
        )
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert "database" in answer.json()["message"]
