"""Re-logging a prediction whose only change is its variant is a correction, not 'unchanged'."""

from __future__ import annotations

from ledger_helpers import seed_pred
from sqlalchemy import select

from stagewise.monitor import PerformanceMonitor
from stagewise.monitor.schema import corrections, race_predictions

DAY = "2025-11-17"


def _log(m: PerformanceMonitor, variant: str, model_version: str = "v1") -> object:
    return m.log_prediction(
        race_id="R1", race_date=DAY, venue_code="01", race_number=1,
        predictions=seed_pred((1, 2, 3, 4, 5, 6)),
        actual_results=None, integration_mode="DYNAMIC", feature_flags={}, model_version=model_version,
        variant=variant,
    )  # fmt: skip


def test_a_new_variant_replaces_the_old_one_and_is_recorded(monitor: PerformanceMonitor) -> None:
    first = _log(monitor, "control")
    assert (first.inserted, first.unchanged) == (1, 0)  # type: ignore[attr-defined]
    again = _log(monitor, "control")
    assert (again.unchanged, again.replaced) == (1, 0)  # type: ignore[attr-defined]
    moved = _log(monitor, "challenger")
    assert (moved.unchanged, moved.replaced, moved.corrections) == (0, 1, 1)  # type: ignore[attr-defined]
    stored = monitor.store.read(lambda c: c.execute(select(race_predictions.c.variant)).scalars().all())
    assert stored == ["challenger"]
    rows = monitor.store.read(lambda c: c.execute(select(corrections)).mappings().all())
    assert [(r["kind"], r["old_value"], r["new_value"]) for r in rows] == [
        ("variant", "control", "challenger")
    ]
    assert monitor.calculate_daily_stats(DAY, variant="challenger")["pending_races"] == 1  # type: ignore[index]
    assert monitor.calculate_daily_stats(DAY, variant="control") is None


def test_a_variant_change_inside_one_batch_is_one_correction(monitor: PerformanceMonitor) -> None:
    base = {
        "race_id": "R2", "race_date": DAY, "venue_code": "01", "race_number": 2,
        "predictions": seed_pred((1, 2, 3, 4, 5, 6)), "model_version": "v1",
    }  # fmt: skip
    summary = monitor.log_predictions([{**base, "variant": "control"}, {**base, "variant": "challenger"}])
    assert (summary.inserted, summary.corrections) == (1, 1)
    stored = monitor.store.read(lambda c: c.execute(select(race_predictions.c.variant)).scalars().all())
    assert stored == ["challenger"]
