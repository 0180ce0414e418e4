"""The calibration gauge: the win hit rate the model expected, beside the one it got."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from stagewise.monitor import PerformanceMonitor


def _race(race_id: str, winner_prob: float, settled: bool) -> dict[str, object]:
    rest = (1.0 - winner_prob) / 5
    predictions = [{"pit": 1, "predicted_rank": 1, "score": winner_prob, "win_prob": winner_prob}] + [
        {"pit": p, "predicted_rank": p, "score": rest, "win_prob": rest} for p in range(2, 7)
    ]
    return {
        "race_id": race_id,
        "race_date": "2025-11-17",
        "venue_code": 1,
        "race_number": int(race_id[-1]),
        "predictions": predictions,
        "actual_results": {p: p for p in range(1, 7)} if settled else None,
        "model_version": "v1",
        "variant": "on",
    }


def test_expected_hit_rate_is_the_mean_winner_probability_of_settled_races(tmp_path: Path) -> None:
    monitor = PerformanceMonitor(monitor_db=tmp_path / "monitor.db")
    monitor.log_predictions([_race("r1", 0.4, True), _race("r2", 0.6, True), _race("r3", 0.9, False)])
    text = monitor.prometheus_metrics(end_date="2025-11-30")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (expected,) = families["stagewise_monitor_expected_hit_rate_1st"].samples
    assert expected.labels == {"domain": "races", "model": "v1", "variant": "on"}
    assert expected.value == pytest.approx(0.5)  # the pending race (0.9) does not count
    assert families["stagewise_monitor_hit_rate_1st"].samples[0].value == 1.0
    monitor.close()


def test_predictions_without_probabilities_have_no_calibration_sample(tmp_path: Path) -> None:
    monitor = PerformanceMonitor(monitor_db=tmp_path / "monitor.db")
    row = _race("r1", 0.4, True)
    row["predictions"] = [1, 2, 3, 4, 5, 6]
    monitor.log_predictions([row])
    families = {
        f.name: f for f in text_string_to_metric_families(monitor.prometheus_metrics(end_date="2025-11-30"))
    }
    assert families["stagewise_monitor_expected_hit_rate_1st"].samples == []
    assert families["stagewise_monitor_total_races"].samples[0].value == 1
    monitor.close()
