"""Typed records (``log_records``) store exactly what the seed's dict facade stores, without a dict."""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from stagewise._exceptions import DataValidationError
from stagewise.monitor import BoatScore, PerformanceMonitor, RacePrediction, SignalPrediction
from stagewise.monitor.inputs import entry_of_record, normalise_race

_finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
_unit = st.floats(min_value=0.0, max_value=1.0)


@st.composite
def records(draw: st.DrawFn) -> RacePrediction:
    pits = draw(st.permutations([1, 2, 3, 4, 5, 6]).map(lambda p: p[: draw(st.integers(1, 6))]))
    boats = tuple(BoatScore(p, draw(st.none() | _finite), draw(st.none() | _unit)) for p in pits)
    return RacePrediction(
        race_id=draw(st.text("abcXYZ0123-", min_size=1, max_size=20)),
        race_date=draw(st.dates(date(2000, 1, 1), date(2099, 12, 31))),
        venue_code=draw(st.integers(1, 24)),
        race_number=draw(st.integers(1, 12)),
        boats=boats,
        model_version=draw(st.sampled_from(["v1", "2025-11-17-abc"])),
        variant=draw(st.sampled_from(["control", "treatment", "shadow"])),
        feature_flags=draw(st.dictionaries(st.sampled_from(["challenger_model", "x"]), st.booleans())),
        integration_mode=draw(st.none() | st.sampled_from(["DYNAMIC", "STATIC"])),
        odds=(odds := draw(st.none() | st.floats(1.0, 500.0))),
        stake=None if odds is None else draw(st.none() | st.floats(0.01, 1e4)),
    )


def as_seed_dict(record: RacePrediction) -> dict[str, object]:
    """The same prediction in the seed's ``log_predictions`` row shape."""
    return {
        "race_id": record.race_id,
        "race_date": record.race_date.isoformat(),
        "venue_code": record.venue_code,
        "race_number": record.race_number,
        "predictions": [
            {"pit_number": b.pit, "total_score": b.score, "win_prob": b.win_prob} for b in record.boats
        ],
        "model_version": record.model_version,
        "variant": record.variant,
        "feature_flags": dict(record.feature_flags),
        "integration_mode": record.integration_mode,
        "odds": record.odds,
        "stake": record.stake,
    }


@settings(max_examples=200, deadline=None)
@given(record=records())
def test_a_record_validates_to_the_entry_its_seed_dict_does(record: RacePrediction) -> None:
    assert entry_of_record(record) == normalise_race(**as_seed_dict(record))  # type: ignore[arg-type]


def _stored(url: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            predictions = conn.execute(
                text(
                    "SELECT race_id, race_date, venue_code, race_number, model_version, variant, "
                    "integration_mode, feature_flags, predicted_order, prediction_digest, status "
                    "FROM race_predictions ORDER BY race_id, model_version"
                )
            ).all()
            boats = conn.execute(text("SELECT * FROM boat_predictions ORDER BY 1, 2, 3")).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in predictions] + [tuple(b)[1:] for b in boats]


@settings(max_examples=15, deadline=None)
@given(batch=st.lists(records(), min_size=1, max_size=4, unique_by=lambda r: r.race_id))
def test_log_records_stores_the_rows_log_predictions_stores(
    batch: list[RacePrediction], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("records")
    typed, seed = f"sqlite:///{root / 'typed.db'}", f"sqlite:///{root / 'seed.db'}"
    with PerformanceMonitor(typed, notifiers=[]) as monitor:
        summary = monitor.log_records(batch)
    with PerformanceMonitor(seed, notifiers=[]) as monitor:
        expected = monitor.log_predictions([as_seed_dict(r) for r in batch])
    assert summary == expected
    rows = _stored(typed)
    assert rows == _stored(seed)
    logged = {r[0]: r for r in rows[: len(batch)]}
    for record in batch:  # the record's fields, unchanged, in its ledger row
        row = logged[record.race_id]
        assert str(row[1])[:10] == record.race_date.isoformat()
        assert (row[2], row[3], row[4], row[5]) == (
            record.venue_code,
            record.race_number,
            record.model_version,
            record.variant,
        )
        assert row[8] == "-".join(map(str, record.pits))


@pytest.mark.parametrize(
    ("boats", "field"),
    [
        ((BoatScore(7, 0.5),), "boats[0].pit"),
        ((BoatScore(1, 0.5), BoatScore(1, 0.4)), "pit(s) [1] more than once"),
        ((BoatScore(1, math.nan),), "boats[0].score"),
        ((BoatScore(1, 0.5, 1.5),), "boats[0].win_prob"),
        ((), "at least one pit"),
    ],
    ids=["pit-out-of-range", "duplicate-pit", "nan-score", "win-prob-above-1", "no-boats"],
)
def test_a_bad_record_is_refused_naming_the_field(boats: tuple[BoatScore, ...], field: str) -> None:
    record = RacePrediction("R1", date(2025, 11, 17), 1, 1, boats)
    with pytest.raises(DataValidationError, match=re.escape(field)):
        entry_of_record(record)


def test_a_record_with_a_bad_venue_names_it(tmp_path: Path) -> None:
    record = RacePrediction("R1", date(2025, 11, 17), 25, 1, (BoatScore(1, 0.5),))
    with PerformanceMonitor(f"sqlite:///{tmp_path / 'm.db'}", notifiers=[]) as monitor:
        with pytest.raises(DataValidationError, match="row 0: venue_code must be an int in 1-24; got 25"):
            monitor.log_records([record])
        assert monitor.prediction_counts().predictions == 0  # all or nothing


def test_signal_records_store_what_log_signals_stores(tmp_path: Path) -> None:
    from datetime import datetime

    at = datetime(2025, 11, 17, 9, 30)
    with PerformanceMonitor(f"sqlite:///{tmp_path / 'm.db'}", notifiers=[]) as monitor:
        assert monitor.log_signal_records([SignalPrediction("BTC", at, 1, 0.7, "v1", "control")]) == 1
        stored = monitor.market_outcomes("2025-11-17", "2025-11-17")
    assert stored[["symbol", "signal", "probability", "model_version", "variant"]].to_dict("records") == [
        {"symbol": "BTC", "signal": 1, "probability": 0.7, "model_version": "v1", "variant": "control"}
    ]
