"""Races routed by a rollout, for the controller suites (imported by name: tests have no package)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np

from stagewise.rollout import GradualRollout


class Clock:
    """A settable clock for the rollout, the ledger and the controller."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def routed_races(
    rollout: GradualRollout, feature: str, day: date, groups: dict[str, int], rng: np.random.Generator
) -> list[dict[str, Any]]:
    """Exactly ``groups[variant]`` races of each variant on ``day``, as the rollout assigns them.

    The challenger ("on") hits 32 % of its races, control 30 %: a hit predicts the finish
    exactly, a miss swaps the first two boats. Each row's ``_result`` is its finish.
    """
    wanted = dict(groups)
    rows: list[dict[str, Any]] = []
    for k in range(100_000):
        if not any(wanted.values()):
            break
        race_id = f"{day:%Y%m%d}{k:05d}"
        variant = rollout.variant(feature, race_id)
        if not wanted.get(variant):
            continue
        wanted[variant] -= 1
        order = [int(p) for p in rng.permutation(6) + 1]
        hit = rng.random() < (0.32 if variant == "on" else 0.30)
        predicted = order if hit else [order[1], order[0], *order[2:]]
        rows.append({
            "race_id": race_id, "race_date": day.isoformat(), "venue_code": k % 24 + 1,
            "race_number": k % 12 + 1, "variant": variant,
            "predictions": [{"pit_number": p} for p in predicted],
            "_result": [{"pit_number": p, "rank": r} for r, p in enumerate(order, 1)],
        })  # fmt: skip
    return rows
