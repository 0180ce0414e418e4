"""Daily calibration in the ledger stats: ECE of the logged win probabilities, by segment, with an alert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stagewise import ConfigError
from stagewise.monitor import AlertConfig, AlertRule, PerformanceMonitor, load_alert_config
from stagewise.monitor.alert_config import DomainRules
from stagewise.monitor.calibration_stats import CALIBRATION_KEYS

DAY = "2025-11-17"
SEED_KEYS = {"date", "total_races", "hit_rate_1st", "hit_rate_top3", "avg_score_accuracy"}


def _rows(model: str, probs: np.ndarray, winners: np.ndarray) -> list[dict[str, Any]]:
    out = []
    for i, (p, w) in enumerate(zip(probs, winners, strict=True)):
        order = [int(w) + 1, *(pit for pit in range(1, 7) if pit != int(w) + 1)]
        ranked = np.argsort(-p)
        out.append(
            {
                "race_id": f"r{i:04d}",
                "race_date": DAY,
                "venue_code": 1 + i // 12,
                "race_number": 1 + i % 12,
                "predictions": [
                    {"pit": int(b) + 1, "predicted_rank": r + 1, "score": float(p[b]), "win_prob": p[b]}
                    for r, b in enumerate(ranked.tolist())
                ],
                "actual_results": {pit: rank for rank, pit in enumerate(order, start=1)},
                "model_version": model,
                "variant": model,
            }
        )
    return out


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 settled races (20 venues x 12): the true win probabilities and a sharpened copy of them."""
    rng = np.random.default_rng(7)
    strength = rng.normal(0.0, 0.8, size=(240, 6))
    true = np.exp(strength) / np.exp(strength).sum(axis=1, keepdims=True)
    winners = np.array([rng.choice(6, p=row) for row in true])
    sharp = true**3 / (true**3).sum(axis=1, keepdims=True)
    path = tmp_path_factory.mktemp("calibration") / "monitor.db"
    with PerformanceMonitor(monitor_db=path, notifiers=[]) as monitor:
        monitor.log_predictions(_rows("calibrated", true, winners) + _rows("sharpened", sharp, winners))
    return path


def test_calibrated_model_shows_no_excess_ece_and_sharpened_one_does(ledger: Path) -> None:
    with PerformanceMonitor(monitor_db=ledger, notifiers=[]) as monitor:
        good = monitor.calculate_daily_stats(DAY, model_version="calibrated")
        bad = monitor.calculate_daily_stats(DAY, model_version="sharpened")
    assert good is not None
    assert bad is not None
    assert good.keys() >= SEED_KEYS
    assert set(CALIBRATION_KEYS) <= good.keys()
    assert good["calibration_races"] == 240
    assert good["calibration_boats"] == 1440
    assert good["calibration_ece_ci_low"] <= 0.0 <= good["calibration_ece_ci_high"]
    assert bad["calibration_ece"] > good["calibration_ece"]
    assert bad["calibration_ece_ci_low"] > 0.02
    # the seed's hit rate is blind to it: both models rank the boats identically
    assert bad["hit_rate_1st"] == good["hit_rate_1st"]


def test_segment_filters_give_the_calibration_of_that_segment(ledger: Path) -> None:
    with PerformanceMonitor(monitor_db=ledger, notifiers=[]) as monitor:
        venue = monitor.calculate_daily_stats(DAY, venue_code=3, variant="sharpened")
        both = monitor.calculate_daily_stats(DAY, venue_code=3)
    assert venue is not None
    assert both is not None
    assert venue["calibration_races"] == 12
    assert venue["calibration_boats"] == 72
    assert both["calibration_races"] == 24  # one trial per race and model version
    assert venue["segment"] == {"venue": "3", "variant": "sharpened"}


def test_no_win_probabilities_or_no_settled_race_gives_none(tmp_path: Path) -> None:
    with PerformanceMonitor(monitor_db=tmp_path / "m.db", notifiers=[]) as monitor:
        row = _rows("v1", np.full((1, 6), 1 / 6), np.array([0]))[0]
        row["predictions"] = [1, 2, 3, 4, 5, 6]  # ranks only, no probabilities
        pending = _rows("v2", np.full((1, 6), 1 / 6), np.array([0]))[0]
        pending["actual_results"] = None
        pending["race_id"], pending["race_number"] = "r-pending", 2
        monitor.log_predictions([row, pending])
        no_probs = monitor.calculate_daily_stats(DAY, model_version="v1")
        unsettled = monitor.calculate_daily_stats(DAY, model_version="v2")
    for stats in (no_probs, unsettled):
        assert stats is not None
        assert stats["calibration_ece"] is None
        assert stats["calibration_ece_ci_low"] is None
        assert stats["calibration_races"] == 0


def _config(threshold: float = 0.02) -> AlertConfig:
    rule = AlertRule(
        alert_type="CALIBRATION",
        metric="calibration_ece",
        threshold=threshold,
        compare="interval_lower",
        min_samples=30,
    )
    return AlertConfig(domains={"races": DomainRules(rules=(rule,))})


def test_calibration_alert_fires_for_the_sharpened_model_only(ledger: Path) -> None:
    with PerformanceMonitor(monitor_db=ledger, alert_config=_config(), notifiers=[]) as monitor:
        bad = monitor.check_alerts(DAY, model_version="sharpened")
        good = monitor.check_alerts(DAY, model_version="calibrated")
        few = monitor.check_alerts(DAY, model_version="calibrated", venue_code=5)
    assert [a["alert_type"] for a in bad] == ["CALIBRATION"]
    assert bad[0]["severity"] == "warning"
    assert bad[0]["state"] == "firing"
    assert "above the threshold" in bad[0]["message"]
    assert "lower 95% bound" in bad[0]["message"]
    assert good == []
    assert [a["alert_type"] for a in few] == ["INSUFFICIENT_DATA"]  # 12 races < min_samples 30


def test_a_toml_rule_with_interval_lower_on_a_rate_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(
        '[[domains.races.rules]]\nalert_type = "X"\nmetric = "hit_rate_1st"\nthreshold = 0.1\n'
        'compare = "interval_lower"\n'
    )
    with pytest.raises(ConfigError, match=r"interval_lower.*calibration_ece"):
        load_alert_config(path)
    good = tmp_path / "good.toml"
    good.write_text(
        '[[domains.races.rules]]\nalert_type = "CALIBRATION"\nmetric = "calibration_ece"\n'
        'threshold = 0.02\ncompare = "interval_lower"\nmin_samples = 30\n'
    )
    assert load_alert_config(good).domains["races"].rules[0].fires_above
