"""The seed's stats shapes: its 7-key dict judged in full, and a pending-only day without NaN."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stagewise import PerformanceMonitor
from stagewise.rollout import GradualRollout, MemoryRolloutStore

DAY = "2025-11-17"
RATES = ("hit_rate_1st", "hit_rate_top3", "hit_rate_trio", "avg_score_accuracy")


def seed_stats(accuracy: float, total: int = 500) -> dict[str, Any]:
    """Exactly the seven keys the seed's calculate_daily_stats returned."""
    return {
        "date": DAY,
        "total_races": total,
        "hit_count_1st": 125,
        "hit_count_top3": 40,
        "hit_rate_1st": 125 / total,
        "hit_rate_top3": 40 / total,
        "avg_score_accuracy": accuracy,
    }


@pytest.mark.parametrize(
    ("accuracy", "expected"),
    [pytest.param(0.55, "firing", id="below-0.6"), pytest.param(0.70, "ok", id="above-0.6")],
)
def test_the_seeds_seven_key_stats_judge_score_accuracy_on_total_races(
    tmp_path: Path, accuracy: float, expected: str
) -> None:
    with PerformanceMonitor(monitor_db=tmp_path / "m.db", notifiers=[]) as monitor:
        alerts = monitor.check_alerts(DAY, seed_stats(accuracy))
    assert "INSUFFICIENT_DATA" not in [a["alert_type"] for a in alerts]
    fired = [a for a in alerts if a["alert_type"] == "LOW_SCORE_ACCURACY"]
    if expected == "firing":
        (alert,) = fired
        assert alert["metric_value"] == accuracy
        assert "n=500" in alert["message"]
    else:
        assert fired == []


def test_a_seed_dict_with_too_few_races_is_still_insufficient(tmp_path: Path) -> None:
    with PerformanceMonitor(monitor_db=tmp_path / "m.db", notifiers=[]) as monitor:
        alerts = monitor.check_alerts(DAY, seed_stats(0.55, total=8))
    insufficient = {a["rule"] for a in alerts if a["alert_type"] == "INSUFFICIENT_DATA"}
    assert "LOW_SCORE_ACCURACY" in insufficient


def _pending_only_day(tmp_path: Path) -> dict[str, Any]:
    monitor = PerformanceMonitor(monitor_db=tmp_path / "m.db", notifiers=[])
    for race in range(3):
        monitor.log_prediction(900 + race, DAY, "01", race + 1, [1, 2, 3, 4, 5, 6], None, "DYNAMIC", {})
    stats = monitor.calculate_daily_stats(DAY)
    trend = monitor.get_performance_trend(days=3, end_date=DAY)
    monitor.close()
    assert stats is not None
    assert trend == [stats]
    return stats


def test_a_day_with_only_pending_predictions_has_none_not_nan(tmp_path: Path) -> None:
    stats = _pending_only_day(tmp_path)
    assert (stats["total_races"], stats["pending_races"]) == (0, 3)
    for name in RATES:
        assert stats[name] is None, name
        assert stats[f"{name}_ci_low"] is None
        assert stats[f"{name}_ci_high"] is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in stats.values())


def test_health_treats_none_as_no_data(tmp_path: Path) -> None:
    stats = _pending_only_day(tmp_path)
    rollout = GradualRollout(store=MemoryRolloutStore(), now=lambda: datetime(2025, 11, 18, tzinfo=UTC))
    rollout.add_feature("probability_calibration", "10%")
    metrics = {  # the seed's step 3, word for word
        "hit_rate_1st": stats["hit_rate_1st"],
        "hit_rate_top3": stats["hit_rate_top3"],
        "avg_score_accuracy": stats["avg_score_accuracy"],
        "error_rate": 0.0,
    }
    result = rollout.check_rollout_health("probability_calibration", metrics)
    assert result["status"] == "INSUFFICIENT_DATA"
    assert result["action"] != "PROCEED_TO_NEXT_STAGE"
    assert any("hit_rate_1st" in w and "no data" in w for w in result["warnings"])
    # A CRITICAL error rate is still CRITICAL without the rates: it needs no sample.
    critical = rollout.check_rollout_health("probability_calibration", {**metrics, "error_rate": 0.5})
    assert critical["status"] == "CRITICAL"
