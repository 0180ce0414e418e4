"""Training and serving compute a race's feature rows with one definition: bit-identical rows.

``stagewise train`` records the feature set with the version; the server computes every request's
rows with that recorded set from the request. The rows of one race, recorded where the feature
function is called, are compared bit for bit (values and dtypes) between the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import parity_features
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serve_support import TestClient
from typer.testing import CliRunner

import stagewise.features.races
import stagewise.serve.service
from stagewise.cli.main import app as cli
from stagewise.data import load_races, simulate_races, validate_races
from stagewise.data.races.validation import FLOAT_RANGES
from stagewise.features.races import RACE_FEATURE_NAMES, race_entry_features
from stagewise.features.sets import FeatureSet
from stagewise.models import ModelRegistry
from stagewise.serve import ServeSettings, create_app
from stagewise.serve.features import PRE_RACE_COLUMNS, builtin_race_matrix, request_frame
from stagewise.serve.schemas import RacePredictRequest


def _payload(race: pd.DataFrame) -> dict[str, Any]:
    first = race.iloc[0]
    return {
        "race_id": str(first["race_id"]),
        "race_date": first["race_date"].date().isoformat(),
        "venue_code": int(first["venue_code"]),
        "race_number": int(first["race_number"]),
        "entries": [
            {
                "pit": int(r.pit),
                "racer_id": int(r.racer_id),
                "racer_class": str(r.racer_class),
                **{name: float(getattr(r, name)) for name in FLOAT_RANGES},
            }
            for r in race.itertuples()
        ],
    }


def _rows_of(calls: list[tuple[pd.Series, pd.DataFrame]], race_id: str) -> pd.DataFrame:
    for ids, rows in calls:
        mask = (ids == race_id).to_numpy()
        if mask.any():
            return rows.loc[mask].reset_index(drop=True)
    raise AssertionError(f"race {race_id} never went through the feature function")


@pytest.mark.parametrize(
    "features", [None, "parity_features:recording_race_features"], ids=["built-in", "function"]
)
def test_a_race_gives_bit_identical_rows_through_train_and_the_server(
    features: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = parity_features.CALLS
    calls.clear()
    if features is None:  # record the built-in set where FeatureSet calls it
        original = stagewise.features.races.race_entry_features

        def recording(races: pd.DataFrame) -> pd.DataFrame:
            rows = original(races)
            calls.append((races["race_id"].copy(), rows.copy()))
            return rows

        monkeypatch.setattr(stagewise.features.races, "race_entry_features", recording)

        # the server computes the built-in set straight into a matrix: record it there too
        def served_matrix(req: RacePredictRequest) -> np.ndarray:
            matrix = builtin_race_matrix(req)
            ids = pd.Series([req.race_id] * len(matrix))
            calls.append((ids, pd.DataFrame(matrix, columns=RACE_FEATURE_NAMES)))
            return matrix

        monkeypatch.setattr(stagewise.serve.service, "builtin_race_matrix", served_matrix)
    data = tmp_path / "races.parquet"
    simulate_races("2025-02-01", "2025-02-04", seed=5, venues=[3, 7]).to_parquet(data)
    root = tmp_path / "models"
    args = ["train", "--domain", "races", "--data", str(data), "--days", "4", "--root", str(root)]
    done = CliRunner().invoke(cli, args + (["--features", features] if features else []))
    assert done.exit_code == 0, done.output
    registry = ModelRegistry(root)
    registry.promote("latest")
    assert registry.info("production")["flavour"] == "race"
    expected_set = FeatureSet.races() if features is None else FeatureSet.parse(features, domain="races")
    assert registry.feature_set("production") == expected_set.to_json()

    races = load_races(data)
    race_ids = [races["race_id"].iloc[0], races["race_id"].iloc[-1]]  # one training race, one held-out race
    trained = {race_id: _rows_of(calls, race_id) for race_id in race_ids}
    calls.clear()
    settings = ServeSettings(
        models_dir=str(root),
        db_url=f"sqlite:///{tmp_path / 'monitor.db'}",
        rollout_config=str(tmp_path / "r.json"),
    )
    with TestClient(create_app(settings, admin_token=None)) as client:
        for race_id in race_ids:
            race = races.loc[races["race_id"] == race_id]
            answer = client.post("/v1/races/predict", json=_payload(race))
            assert answer.status_code == 200, answer.text
            served = _rows_of(calls, race_id)
            pd.testing.assert_frame_equal(served, trained[race_id], check_exact=True)
            assert np.array_equal(served.to_numpy(), trained[race_id].to_numpy(), equal_nan=True)


_ENTRY = st.fixed_dictionaries(
    {
        "racer_id": st.integers(1, 9999),
        "racer_class": st.sampled_from(["A1", "A2", "B1", "B2"]),
        **{name: st.floats(*FLOAT_RANGES[name], allow_nan=False) for name in FLOAT_RANGES},
    }
)


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(_ENTRY, min_size=6, max_size=6),
    venue=st.integers(1, 24),
    pits=st.permutations(range(1, 7)),
)
def test_a_request_becomes_the_rows_a_validated_race_file_holds(
    entries: list[dict[str, Any]], venue: int, pits: list[int]
) -> None:
    body = {
        "race_id": "2025-01-01-01-01",
        "race_date": "2025-01-01",
        "venue_code": venue,
        "race_number": 1,
        "entries": [{"pit": p, **e} for p, e in zip(pits, entries, strict=True)],
    }
    frame = request_frame(RacePredictRequest.model_validate(body))
    as_file = validate_races(frame.assign(finish_position=frame["pit"], status="finished"))
    by_pit = frame.sort_values("pit").reset_index(drop=True)  # a race file lists boats by pit
    pd.testing.assert_frame_equal(
        by_pit, as_file[list(PRE_RACE_COLUMNS)].reset_index(drop=True), check_exact=True
    )


def test_the_server_has_no_feature_code_of_its_own() -> None:
    import stagewise.serve.features as serve_features

    assert not hasattr(serve_features, "one_race_features")
    source = Path(serve_features.__file__).read_text(encoding="utf-8")
    assert "_rel" not in source
    assert "rank" not in source


@settings(max_examples=100, deadline=None)
@given(
    entries=st.lists(_ENTRY, min_size=6, max_size=6),
    venue=st.integers(1, 24),
    pits=st.permutations(range(1, 7)),
)
def test_the_servers_feature_matrix_is_bit_identical_to_the_built_in_rows(
    entries: list[dict[str, Any]], venue: int, pits: list[int]
) -> None:
    body = {
        "race_id": "2025-01-01-01-01",
        "race_date": "2025-01-01",
        "venue_code": venue,
        "race_number": 1,
        "entries": [{"pit": p, **e} for p, e in zip(pits, entries, strict=True)],
    }
    req = RacePredictRequest.model_validate(body)
    matrix = builtin_race_matrix(req)
    rows = race_entry_features(request_frame(req)).to_numpy()
    assert matrix.dtype == rows.dtype == np.float64
    assert np.array_equal(matrix.view(np.uint64), rows.view(np.uint64))  # bit for bit, -0.0 included
