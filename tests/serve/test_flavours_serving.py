"""The server with any flavour: signatures enforced (422, nothing logged), the path per model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_support import TOKEN, TestClient, count_predictions, race_payloads, request_body

from stagewise.data import simulate_races
from stagewise.features.races import RACE_FEATURE_NAMES, race_entry_features
from stagewise.models import (
    FeatureSpec,
    InputSignature,
    LightGBMFlavour,
    ModelRegistry,
    RaceFlavour,
    SklearnFlavour,
    XGBoostFlavour,
)
from stagewise.models.places import PlaceModel
from stagewise.serve import ServeSettings, create_app
from stagewise.serve.service import PredictionService

SMALL = {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 5}


def _training() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    races = simulate_races("2025-01-01", "2025-01-04", seed=3, venues=[1, 2])
    return races, race_entry_features(races), (races["finish_position"] == 1).fillna(False).astype(int)


def _strict_signature() -> InputSignature:
    specs = [FeatureSpec(n, allow_nan=False) for n in RACE_FEATURE_NAMES]
    specs[RACE_FEATURE_NAMES.index("national_win_rate")] = FeatureSpec(
        "national_win_rate", minimum=0.0, maximum=9.0, allow_nan=False
    )
    return InputSignature(tuple(specs))


def _use(models_dir: Path, model: Any, alias: str = "champion") -> str:
    registry = ModelRegistry(models_dir)
    version = registry.save(model)
    if alias == "champion":
        registry.promote(version)
    else:
        registry.set_alias(alias, version)
    return version


def _payload_with(name: str, value: float, prefix: str) -> dict[str, Any]:
    payload = request_body(race_payloads(1, prefix=prefix)[0])
    payload["entries"][2][name] = value
    return payload


def test_a_signature_violation_is_422_naming_feature_value_and_rule_and_nothing_is_logged(
    make_settings: Callable[..., ServeSettings], models_dir: Path
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, X, y = _training()
    model = SklearnFlavour(make_pipeline(StandardScaler(), LogisticRegression()), _strict_signature()).fit(
        X, y
    )
    version = _use(models_dir, model)
    settings = make_settings()
    with TestClient(create_app(settings, admin_token=TOKEN)) as client:
        good = client.post("/v1/races/predict", json=request_body(race_payloads(1, prefix="ok-")[0]))
        bad = client.post("/v1/races/predict", json=_payload_with("national_win_rate", 9.5, "bad-"))
    assert good.status_code == 200, good.text
    assert good.json()["model"]["version"] == version
    assert bad.status_code == 422
    message = bad.json()["message"]
    assert "Feature 'national_win_rate' (row 2) has value 9.5" in message
    assert "a number in [0, 9], never NaN" in message
    assert count_predictions(settings.db_url or "") == 1  # only the good race


def test_private_signature_errors_do_not_echo_the_schema_without_the_admin_token(
    make_settings: Callable[..., ServeSettings], models_dir: Path
) -> None:
    _, X, y = _training()
    _use(models_dir, LightGBMFlavour(SMALL, _strict_signature()).fit(X, y))
    settings = make_settings(signature_errors="private")
    body = _payload_with("national_win_rate", 9.5, "private-")
    with TestClient(create_app(settings, admin_token=TOKEN)) as client:
        anonymous = client.post("/v1/races/predict", json=body)
        admin = client.post("/v1/races/predict", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        wrong = client.post("/v1/races/predict", json=body, headers={"Authorization": "Bearer nope"})
        good = client.post("/v1/races/predict", json=request_body(race_payloads(1, prefix="fine-")[0]))
    assert good.status_code == 200, good.text
    assert anonymous.status_code == admin.status_code == wrong.status_code == 422
    for answer in (anonymous, wrong):
        assert "national_win_rate" not in answer.text
        assert "[0, 9]" not in answer.text
        assert "input signature" in answer.json()["message"]
    assert "Feature 'national_win_rate'" in admin.json()["message"]
    assert count_predictions(settings.db_url or "") == 1  # the good race only


@pytest.mark.parametrize("flavour", ["lightgbm", "xgboost"])
def test_single_boosters_are_served_by_the_fast_path_with_the_library_probabilities(
    make_settings: Callable[..., ServeSettings], models_dir: Path, flavour: str
) -> None:
    _, X, y = _training()
    cls = LightGBMFlavour if flavour == "lightgbm" else XGBoostFlavour
    params = SMALL if flavour == "lightgbm" else {"n_estimators": 20, "max_depth": 3}
    model = cls(params).fit(X, y)
    version = _use(models_dir, model)
    payloads = race_payloads(5, prefix=f"{flavour}-")
    with TestClient(create_app(make_settings(), admin_token=None)) as client:
        ready = client.get("/readyz").json()
        bodies = [client.post("/v1/races/predict", json=request_body(p)).json() for p in payloads]
        metrics = client.get("/metrics").text
    champion = ready["models"]["champion"]
    assert champion["flavour"] == flavour
    assert champion["inference_path"] == "fast"
    assert champion["inference_reason"].startswith("exactness check passed")
    for payload, body in zip(payloads, bodies, strict=True):
        entries = pd.DataFrame(payload["entries"]).assign(
            race_id=payload["race_id"], venue_code=payload["venue_code"]
        )
        expected = model.predict_proba(race_entry_features(entries))[:, 1]
        got = [b["score"] for b in sorted(body["boats"], key=lambda b: b["pit"])]
        np.testing.assert_allclose(got, expected[np.argsort(entries["pit"].to_numpy())], atol=1e-6)
    fast = {
        (s.labels["role"], s.labels["flavour"]): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == "stagewise_model_fast_path" and s.labels["version"] == version
    }
    assert fast == {("champion", flavour): 1.0}


def test_a_sklearn_model_is_served_by_the_library_and_readyz_says_why(
    make_settings: Callable[..., ServeSettings], models_dir: Path
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    _, X, y = _training()
    _use(models_dir, SklearnFlavour(HistGradientBoostingClassifier(max_iter=10)).fit(X, y), "challenger")
    with TestClient(create_app(make_settings(), admin_token=None)) as client:
        ready = client.get("/readyz").json()
    assert ready["models"]["champion"]["inference_path"] == "fast"  # the built-in ensemble
    challenger = ready["models"]["challenger"]
    assert (challenger["flavour"], challenger["inference_path"]) == ("sklearn", "library")
    assert "no compiled path for the sklearn flavour" in challenger["inference_reason"]


def test_a_race_model_orders_places_2_to_6_with_its_place_model(
    make_settings: Callable[..., ServeSettings], models_dir: Path
) -> None:
    races, X, y = _training()
    win = LightGBMFlavour(SMALL).fit(X, y)
    codes = pd.factorize(races["race_id"])[0]
    place = PlaceModel(params=SMALL).fit(
        X.to_numpy(), codes, races["pit"], races["finish_position"].astype(float)
    )
    race_model = RaceFlavour.from_parts(win, place)
    _use(models_dir, race_model)
    payloads = race_payloads(30, prefix="place-")
    with TestClient(create_app(make_settings(), admin_token=None)) as client:
        bodies = [client.post("/v1/races/predict", json=request_body(p)).json() for p in payloads]
    differs = 0
    for payload, body in zip(payloads, bodies, strict=True):
        entries = pd.DataFrame(payload["entries"]).assign(
            race_id=payload["race_id"], venue_code=payload["venue_code"]
        )
        expected = race_model.rank(entries, race_entry_features(entries))
        assert body["predicted_order"] == expected["pit"].tolist()
        by_win = sorted(body["boats"], key=lambda b: (-b["score"], b["pit"]))
        differs += [b["pit"] for b in by_win] != body["predicted_order"]
    assert differs > 0, "no race was ordered differently from the win probabilities"


def test_the_service_refuses_a_model_whose_features_do_not_fit_the_role(
    make_settings: Callable[..., ServeSettings], models_dir: Path
) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    _use(models_dir, LightGBMFlavour(SMALL).fit(X, (X["a"] > 0).astype(int)), "challenger")
    service = PredictionService(make_settings(), rollout=None)
    assert "challenger" not in service.watcher.current.models
    assert "the challenger role needs" in service.watcher.current.errors["challenger"]


def test_a_compiled_path_that_is_not_exact_at_load_is_replaced_by_the_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import stagewise.serve.paths as paths

    _, X, y = _training()
    model = XGBoostFlavour({"n_estimators": 20, "max_depth": 3}).fit(X, y)
    exact = paths.choose_path(model)
    assert exact.path == "fast"
    assert exact.max_abs_diff is not None
    assert 0.0 < exact.max_abs_diff <= 1e-6  # XGBoost's float32 sums
    monkeypatch.setattr(paths, "TOLERANCE", exact.max_abs_diff / 2)
    strict = paths.choose_path(model)
    assert strict.path == "library"
    assert strict.reason.startswith("exactness check failed: max |fast - library|")
    rows = X.to_numpy()[:5]
    np.testing.assert_array_equal(strict.scorer.predict_proba(rows), model.predict_proba(rows))


def test_the_exactness_check_rows_hold_every_split_value_and_its_neighbours() -> None:
    from stagewise.serve.paths import check_rows, compile_flavour, split_points

    _, X, y = _training()
    model = LightGBMFlavour(SMALL).fit(X, y)
    fast, _ = compile_flavour(model)
    splits = split_points(fast, model)
    rows = check_rows(splits, model, n_rows=2000)
    feature, values = max(splits.items(), key=lambda kv: len(kv[1]))
    column = set(rows[:, feature].tolist())
    assert len(column & set(values.tolist())) > 0.5 * len(values)
    assert column & set(np.nextafter(values, np.inf).tolist())
