"""Helpers shared by the monitor ledger tests (seed-shaped inputs, a hand-moved clock)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2025, 11, 18, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def seed_pred(order: tuple[int, ...] = (1, 2, 3, 4, 5, 6)) -> list[dict[str, Any]]:
    """The seed's ``predictions``: dicts best first with pit_number and total_score."""
    return [{"pit_number": p, "total_score": round(1.0 - i * 0.1, 2)} for i, p in enumerate(order)]


def seed_result(finish: tuple[int | str, ...]) -> list[dict[str, Any]]:
    """The seed's ``actual_results`` from pits in finish order; an item 'pit:status' did not finish."""
    out: list[dict[str, Any]] = []
    rank = 0
    for item in finish:
        if isinstance(item, str):
            pit, status = item.split(":")
            out.append({"pit_number": int(pit), "status": status})
        else:
            rank += 1
            out.append({"pit_number": item, "rank": rank})
    return out
