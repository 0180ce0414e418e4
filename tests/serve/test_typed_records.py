"""A race request's fields travel as one typed record from the handler to the ledger row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from serve_support import TestClient, race_payloads, request_body
from sqlalchemy import create_engine, text

from stagewise.monitor import RacePrediction
from stagewise.monitor.records import LedgerRecord
from stagewise.serve import ServeSettings, create_app
from stagewise.serve.logging_queue import Kind


class Recorder:
    """A sink that keeps what the writer thread hands it."""

    def __init__(self) -> None:
        self.batches: list[tuple[Kind, list[LedgerRecord]]] = []

    def write(self, kind: Kind, rows: Sequence[LedgerRecord]) -> None:
        self.batches.append((kind, list(rows)))


def test_the_writer_thread_receives_typed_records_with_the_request_and_answer_fields(
    make_settings: Callable[..., ServeSettings],
) -> None:
    sink = Recorder()
    payloads = race_payloads(5, prefix="typed-")
    with TestClient(create_app(make_settings(), sink=sink, admin_token=None)) as client:
        answers = [client.post("/v1/races/predict", json=request_body(p)).json() for p in payloads]
    records = [r for kind, batch in sink.batches for r in batch if kind == "race"]
    assert all(isinstance(r, RacePrediction) for r in records)
    by_id = {r.race_id: r for r in records if isinstance(r, RacePrediction)}
    for payload, answer in zip(payloads, answers, strict=True):
        record = by_id[payload["race_id"]]
        assert (record.race_date, record.venue_code, record.race_number) == (
            date.fromisoformat(payload["race_date"]),
            payload["venue_code"],
            payload["race_number"],
        )
        assert list(record.pits) == answer["predicted_order"]
        assert [(b.pit, b.score, b.win_prob) for b in record.boats] == [
            (b["pit"], b["score"], b["win_prob"]) for b in answer["boats"]
        ]
        assert (record.model_version, record.variant) == (
            answer["model"]["version"],
            answer["model"]["variant"],
        )
        assert record.feature_flags == {"challenger_model": answer["model"]["role"] == "challenger"}


def test_a_requests_fields_arrive_unchanged_in_the_ledger_row(
    make_settings: Callable[..., ServeSettings],
) -> None:
    settings = make_settings()
    payloads = race_payloads(4, prefix="row-")
    with TestClient(create_app(settings, admin_token=None)) as client:
        answers = {
            p["race_id"]: client.post("/v1/races/predict", json=request_body(p)).json() for p in payloads
        }
    engine = create_engine(settings.db_url or "")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT race_id, race_date, venue_code, race_number, model_version, variant, feature_flags, "
                "predicted_order FROM race_predictions"
            )
        ).all()
        boats = conn.execute(
            text("SELECT race_id, pit, predicted_rank, score, win_prob FROM boat_predictions")
        ).all()
    engine.dispose()
    assert len(rows) == len(payloads)
    sent = {p["race_id"]: p for p in payloads}
    for race_id, day, venue, number, version, variant, flags, order in rows:
        payload, answer = sent[race_id], answers[race_id]
        assert (str(day)[:10], venue, number) == (
            payload["race_date"],
            payload["venue_code"],
            payload["race_number"],
        )
        assert (version, variant) == (answer["model"]["version"], answer["model"]["variant"])
        assert flags == f'{{"challenger_model":{str(answer["model"]["role"] == "challenger").lower()}}}'
        assert order == "-".join(map(str, answer["predicted_order"]))
    stored = {(r, p): (rank, score, prob) for r, p, rank, score, prob in boats}
    for race_id, answer in answers.items():
        for b in answer["boats"]:
            assert stored[(race_id, b["pit"])] == (b["predicted_rank"], b["score"], b["win_prob"])
