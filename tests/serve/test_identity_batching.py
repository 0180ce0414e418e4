"""Race identities are looked up in batches on the event loop, and a conflict is still refused."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import date

import pytest

from stagewise.serve.identity import RaceConflictError, RaceIdentities, RaceIdentity

DAY = date(2025, 11, 17)


class Ledger:
    """A slow ledger lookup (as over a network) that records each query's races."""

    def __init__(self, stored: Mapping[str, RaceIdentity], *, fail: bool = False) -> None:
        self.stored = dict(stored)
        self.fail = fail
        self.queries: list[list[str]] = []
        self.threads: set[str] = set()

    def __call__(self, race_ids: Sequence[str]) -> Mapping[str, RaceIdentity]:
        self.queries.append(list(race_ids))
        self.threads.add(threading.current_thread().name)
        time.sleep(0.02)
        if self.fail:
            raise ConnectionError("database down")
        return {r: self.stored[r] for r in race_ids if r in self.stored}


async def _check_all(known: RaceIdentities, requests: list[tuple[str, RaceIdentity]]) -> list[str]:
    async def one(race_id: str, identity: RaceIdentity) -> str:
        try:
            await known.check_async(race_id, identity)
        except RaceConflictError:
            return "409"
        return "ok"

    return list(await asyncio.gather(*(one(r, i) for r, i in requests)))


def test_concurrent_requests_share_lookups_off_the_event_loop() -> None:
    ledger = Ledger({})
    known = RaceIdentities(ledger)
    outcome = asyncio.run(_check_all(known, [(f"R{i}", (DAY, 1, i % 12 + 1)) for i in range(40)]))
    assert outcome == ["ok"] * 40
    assert sorted(r for q in ledger.queries for r in q) == sorted(f"R{i}" for i in range(40))
    assert len(ledger.queries) <= 2  # the first race's query, then everyone who arrived meanwhile
    assert threading.main_thread().name not in ledger.threads
    # remembered: asking again costs no query
    asyncio.run(_check_all(known, [("R3", (DAY, 1, 4))]))
    assert len(ledger.queries) <= 2


def test_a_race_stored_with_another_identity_is_refused_in_a_batch() -> None:
    ledger = Ledger({"OLD": (DAY, 5, 7)})
    known = RaceIdentities(ledger)
    requests = [("NEW1", (DAY, 1, 1)), ("OLD", (DAY, 5, 8)), ("NEW2", (DAY, 1, 2)), ("OLD", (DAY, 5, 7))]
    assert asyncio.run(_check_all(known, requests)) == ["ok", "409", "ok", "ok"]


def test_two_requests_claiming_one_new_race_differently_cannot_both_pass() -> None:
    known = RaceIdentities(Ledger({}))
    outcome = asyncio.run(_check_all(known, [("R1", (DAY, 1, 1)), ("R1", (DAY, 2, 1))]))
    assert sorted(outcome) == ["409", "ok"]


def test_while_the_ledger_cannot_be_read_requests_pass_and_are_asked_again() -> None:
    ledger = Ledger({"OLD": (DAY, 5, 7)}, fail=True)
    known = RaceIdentities(ledger)
    assert asyncio.run(_check_all(known, [("OLD", (DAY, 5, 8))])) == ["ok"]  # cannot know: answered
    ledger.fail = False
    assert asyncio.run(_check_all(known, [("OLD", (DAY, 5, 8))])) == ["409"]  # not remembered as fine


def test_the_conflict_names_the_stored_identity() -> None:
    known = RaceIdentities(Ledger({"OLD": (DAY, 5, 7)}))
    with pytest.raises(RaceConflictError, match="venue_code=5, race_number=7"):
        known.check("OLD", (DAY, 5, 9))
