"""Daily calibration of the logged win probabilities against settled results.

The ledger keeps every boat's ``win_prob`` beside its ``finish_rank``; a day's settled races of a segment
(the same filters as the daily stats: venue, variant, model version, integration mode) give one
:func:`~stagewise.metrics.calibration.calibration_report` with each race as one trial (its boats'
probabilities share exactly one winner). The stats dict gains

* ``calibration_ece``: the expected calibration error of the win probabilities (10 equal-width bins);
* ``calibration_ece_ci_low`` / ``calibration_ece_ci_high``: the 95 % interval of the ECE in excess of
  what a perfectly calibrated model shows by chance on the same races (covers 0 when calibration is not
  rejected);
* ``calibration_races`` / ``calibration_boats``: the settled races and boats it was computed over.

All are None (the counts 0) when no settled race of the day logged win probabilities. Void races (no
winner) and pending races are left out; a boat that did not start or finish counts as a loser.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, select

from stagewise.metrics.calibration import calibration_report
from stagewise.monitor.schema import ALL, boat_predictions, race_predictions

__all__ = ["CALIBRATION_KEYS", "race_calibration"]

CALIBRATION_KEYS = (
    "calibration_ece",
    "calibration_ece_ci_low",
    "calibration_ece_ci_high",
    "calibration_races",
    "calibration_boats",
)


_EMPTY: dict[str, Any] = {
    "calibration_ece": None,
    "calibration_ece_ci_low": None,
    "calibration_ece_ci_high": None,
    "calibration_races": 0,
    "calibration_boats": 0,
}


def race_calibration(
    conn: Connection, days: Sequence[date], key: Mapping[str, str]
) -> dict[date, dict[str, Any]]:
    """The calibration keys of each day's stats for the segment ``key``, read in one query."""
    if not days:
        return {}
    rp, bp = race_predictions.c, boat_predictions.c
    where = [rp.race_date.in_(list(days)), rp.status == "settled", bp.win_prob.is_not(None)]
    for name in ("model_version", "variant", "integration_mode"):
        if key.get(name, ALL) != ALL:
            where.append(rp[name] == key[name])
    if key.get("venue", ALL) != ALL:
        where.append(rp.venue_code == int(key["venue"]))
    joined = race_predictions.join(
        boat_predictions, and_(bp.model_version == rp.model_version, bp.race_id == rp.race_id)
    )
    query = select(rp.race_date, bp.model_version, bp.race_id, bp.win_prob, bp.finish_rank)
    by_day: dict[date, list[tuple[str, float, float]]] = defaultdict(list)
    for day, mv, rid, prob, rank in conn.execute(query.select_from(joined).where(*where)):
        by_day[_as_date(day)].append(
            (f"{mv}\x00{rid}", min(max(float(prob), 0.0), 1.0), 1.0 if rank == 1 else 0.0)
        )
    out: dict[date, dict[str, Any]] = {}
    for day in days:
        rows = by_day.get(day)
        if not rows:
            out[day] = dict(_EMPTY)
            continue
        groups = [g for g, _, _ in rows]
        report = calibration_report([p for _, p, _ in rows], [y for _, _, y in rows], groups=groups)
        low, high = report.ece_excess_interval
        out[day] = {
            "calibration_ece": report.ece,
            "calibration_ece_ci_low": low,
            "calibration_ece_ci_high": high,
            "calibration_races": len(set(groups)),
            "calibration_boats": report.n,
        }
    return out


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value)
    return value  # type: ignore[no-any-return]
