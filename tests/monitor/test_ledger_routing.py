"""The routing of a prediction (revision 0004): which rollout feature routed it, and its covariate.

Every logging path (``log_prediction``, ``log_predictions``, ``log_records``, ``log_signal``,
``log_signals``, ``log_signal_records``) stores ``rollout_feature`` and ``covariate`` as given, refuses
a bad value in one line naming the field, the value and the rule (and stores nothing), and the
controller's reads (``race_outcomes``, ``market_outcomes``) return both and filter on the feature:
rows of the feature and rows naming none, never another feature's.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import seed_pred, seed_result

from stagewise import DataValidationError
from stagewise.monitor import PerformanceMonitor
from stagewise.monitor.records import BoatScore, RacePrediction, SignalPrediction

DAY = "2025-11-17"
ORDER = (1, 2, 3, 4, 5, 6)


def _race(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "race_id": f"R{i}",
        "race_date": DAY,
        "venue_code": 1 + i % 24,
        "race_number": 1 + i % 12,
        "predictions": seed_pred(),
        "actual_results": seed_result(ORDER),
        **extra,
    }


def _record(i: int, **extra: Any) -> RacePrediction:
    boats = tuple(BoatScore(p, 1.0 / p) for p in ORDER)
    return RacePrediction(f"R{i}", date(2025, 11, 17), 1 + i % 24, 1 + i % 12, boats, **extra)


def test_every_race_path_stores_the_routing_as_given(monitor: PerformanceMonitor) -> None:
    monitor.log_prediction(**_race(0), rollout_feature="new_model", covariate=0.41)
    monitor.log_predictions([_race(1, rollout_feature="new_model", covariate=0.2), _race(2)])
    monitor.log_records([_record(3, rollout_feature="new_model", covariate=-1.5e-3), _record(4)])
    rows = monitor.race_outcomes(DAY, DAY).set_index("race_id")
    assert rows["rollout_feature"].tolist() == ["new_model", "new_model", None, "new_model", None]
    covariates = rows["covariate"].tolist()
    assert covariates[:2] + covariates[3:4] == [0.41, 0.2, -1.5e-3]
    assert math.isnan(covariates[2])
    assert math.isnan(covariates[4])
    # logging the same prediction with the same routing again changes nothing
    assert monitor.log_prediction(**_race(0), rollout_feature="new_model", covariate=0.41).unchanged == 1
    assert monitor.log_records([_record(3, rollout_feature="new_model", covariate=-1.5e-3)]).unchanged == 1


def test_the_typed_record_and_the_dict_store_the_same_row(monitor: PerformanceMonitor) -> None:
    monitor.log_records([_record(0, rollout_feature="f", covariate=0.3, model_version="typed")])
    monitor.log_prediction(
        **{**_race(0), "predictions": [{"pit_number": p, "total_score": 1.0 / p} for p in ORDER]},
        model_version="dict",
        rollout_feature="f",
        covariate=0.3,
    )
    rows = monitor.race_outcomes(DAY, DAY)
    columns = ["rollout_feature", "covariate", "status"]
    assert rows[columns].iloc[0].tolist() == rows[columns].iloc[1].tolist() == ["f", 0.3, "settled"]


def test_every_signal_path_stores_the_routing(monitor: PerformanceMonitor) -> None:
    monitor.log_signal("EURUSD", "2025-11-17T09:00", 1, 0.6, rollout_feature="f", covariate=0.58)
    monitor.log_signals([{"symbol": "EURUSD", "timestamp": "2025-11-17T10:00", "signal": 0,
                          "probability": 0.4, "rollout_feature": "g", "covariate": 0.45}])  # fmt: skip
    monitor.log_signal_records(
        [SignalPrediction("EURUSD", datetime(2025, 11, 17, 11), 1, 0.7, rollout_feature="f", covariate=0.66)]
    )
    monitor.log_signal("EURUSD", "2025-11-17T12:00", 1, 0.6)
    rows = monitor.market_outcomes(DAY, DAY)
    assert rows["rollout_feature"].tolist() == ["f", "g", "f", None]
    assert rows["covariate"].tolist()[:3] == [0.58, 0.45, 0.66]
    assert rows["ts"].dt.hour.tolist() == [9, 10, 11, 12]
    only_f = monitor.market_outcomes(DAY, DAY, rollout_feature="f")
    assert only_f["ts"].dt.hour.tolist() == [9, 11, 12]  # f's rows and the one naming no feature
    # a re-logged signal whose routing changed is replaced, so the ledger says what was served
    assert monitor.log_signal("EURUSD", "2025-11-17T09:00", 1, 0.6, rollout_feature="g", covariate=0.5) == 1
    assert monitor.market_outcomes(DAY, DAY)["rollout_feature"].tolist()[0] == "g"


BAD_ROUTING = [
    pytest.param({"covariate": float("nan")}, "covariate", "nan", id="covariate-nan"),
    pytest.param({"covariate": float("inf")}, "covariate", "inf", id="covariate-inf"),
    pytest.param({"covariate": "0.4"}, "covariate", "'0.4'", id="covariate-a-string"),
    pytest.param({"covariate": True}, "covariate", "True", id="covariate-a-bool"),
    pytest.param({"rollout_feature": ""}, "rollout_feature", "''", id="feature-empty"),
    pytest.param({"rollout_feature": "f" * 65}, "rollout_feature", "'fff", id="feature-too-long"),
    pytest.param({"rollout_feature": 7}, "rollout_feature", "7", id="feature-an-int"),
]


def _message_names(exc: pytest.ExceptionInfo[DataValidationError], field: str, shown: str) -> None:
    message = str(exc.value)
    assert "\n" not in message
    assert f"{field} must be" in message
    assert "must be" in message
    assert f"got {shown}" in message


def _nothing_stored(monitor: PerformanceMonitor) -> None:
    assert monitor.race_outcomes(DAY, DAY).empty
    assert monitor.market_outcomes(DAY, DAY).empty


@pytest.mark.parametrize(("bad", "field", "shown"), BAD_ROUTING)
def test_a_bad_routing_is_refused_on_every_path_and_nothing_is_stored(
    monitor: PerformanceMonitor, bad: dict[str, Any], field: str, shown: str
) -> None:
    good = {"rollout_feature": "f", "covariate": 0.5}
    with pytest.raises(DataValidationError) as exc:
        monitor.log_prediction(**_race(0), **{**good, **bad})
    _message_names(exc, field, shown)
    with pytest.raises(DataValidationError) as exc:
        monitor.log_predictions([_race(0, **good), _race(1, **{**good, **bad})])
    _message_names(exc, field, shown)
    assert str(exc.value).startswith("row 1: ")
    with pytest.raises(DataValidationError) as exc:
        monitor.log_records([_record(0, **good), _record(1, **{**good, **bad})])
    _message_names(exc, field, shown)
    with pytest.raises(DataValidationError) as exc:
        monitor.log_signal("EURUSD", "2025-11-17T09:00", 1, 0.6, **{**good, **bad})
    _message_names(exc, field, shown)
    rows = [{"symbol": "EURUSD", "timestamp": f"2025-11-17T0{h}:00", "signal": 1, "probability": 0.6}
            for h in (1, 2)]  # fmt: skip
    with pytest.raises(DataValidationError) as exc:
        monitor.log_signals([{**rows[0], **good}, {**rows[1], **good, **bad}])
    _message_names(exc, field, shown)
    with pytest.raises(DataValidationError) as exc:
        monitor.log_signal_records(
            [SignalPrediction("EURUSD", datetime(2025, 11, 17, 9), 1, 0.6, **{**good, **bad})]
        )
    _message_names(exc, field, shown)
    _nothing_stored(monitor)


FEATURES = st.lists(st.sampled_from(["A", "B", None]), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(features=FEATURES)
def test_a_features_read_never_holds_another_features_rows(
    tmp_path_factory: pytest.TempPathFactory, features: list[str | None]
) -> None:
    db = tmp_path_factory.mktemp("routing") / "monitor.db"
    with PerformanceMonitor(monitor_db=db, notifiers=[]) as monitor:
        rows = [_race(i, rollout_feature=f, covariate=i / 10) for i, f in enumerate(features)]
        monitor.log_predictions(rows)
        every = monitor.race_outcomes(DAY, DAY)
        for wanted in ("A", "B"):
            rows = monitor.race_outcomes(DAY, DAY, rollout_feature=wanted)
            expected = sorted(f"R{i}" for i, f in enumerate(features) if f in (wanted, None))
            assert sorted(rows["race_id"]) == expected
            assert set(rows["rollout_feature"].dropna()) <= {wanted}
        assert len(every) == len(features)  # no filter: every row
