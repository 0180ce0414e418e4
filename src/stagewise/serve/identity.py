"""A race has one date, venue and number: refuse a prediction the ledger would refuse, before answering.

The ledger refuses a ``race_id`` logged again with another date, venue or race number, but the
server logs through a queue, after it has answered. :class:`RaceIdentities` lets it find that
conflict before answering: races this process logged are remembered (a bounded LRU), and races it
has not seen are looked up in the ledger's ``races`` table. The server's requests await
:meth:`RaceIdentities.check_async`, which gathers the new races of one event-loop tick into one
lookup, started at once in a worker thread (it never waits for an earlier lookup to end): one query
for many requests instead of a round trip each, and a request waits for one lookup, not one and a
half. When the database cannot be read the server cannot know, and the queue's check stays the last
word.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Final

from stagewise._exceptions import DataValidationError

__all__ = ["RaceConflictError", "RaceIdentities", "RaceIdentity"]

RaceIdentity = tuple[date, int, int]
"""``(race_date, venue_code, race_number)``."""

_LOG = logging.getLogger("stagewise.serve")


class _Unchecked:
    """The ledger could not be read: the race is neither known nor unknown."""


_UNCHECKED: Final = _Unchecked()

_Answer = asyncio.Future[RaceIdentity | _Unchecked | None]
"""What a waiting request gets: the stored identity, None when the race is new, or unchecked."""


class RaceConflictError(DataValidationError):
    """The race_id is already logged with another date, venue or number (the server answers 409)."""

    def __init__(self, race_id: str, stored: RaceIdentity, sent: RaceIdentity) -> None:
        self.race_id = race_id
        self.stored = {
            "race_id": race_id,
            "race_date": stored[0].isoformat(),
            "venue_code": stored[1],
            "race_number": stored[2],
        }
        super().__init__(
            f"race_id {race_id!r} is already logged with race_date={stored[0].isoformat()}, "
            f"venue_code={stored[1]}, race_number={stored[2]}; this request says race_date="
            f"{sent[0].isoformat()}, venue_code={sent[1]}, race_number={sent[2]}. A race has one date, "
            "venue and number: send it with the stored identity, or use another race_id. Not answered, "
            "not logged."
        )


class RaceIdentities:
    """The identity of each race the ledger holds, as far as this process can know it before answering.

    Parameters
    ----------
    lookup : callable
        ``race_ids -> {race_id: (race_date, venue_code, race_number)}`` of those the ledger holds; may
        raise when the database is down (then those races are not checked).
    capacity : int
        Races remembered (least recently used ones are forgotten and looked up again).

    Examples
    --------
    >>> from datetime import date
    >>> known = RaceIdentities(lambda race_ids: {})
    >>> known.check("R1", (date(2025, 11, 17), 1, 1))
    >>> known.check("R1", (date(2025, 11, 18), 1, 1))
    Traceback (most recent call last):
    ...
    stagewise.serve.identity.RaceConflictError: race_id 'R1' is already logged with race_date=2025-11-17, ...
    """

    def __init__(
        self, lookup: Callable[[Sequence[str]], Mapping[str, RaceIdentity]], capacity: int = 100_000
    ) -> None:
        self.lookup = lookup
        self.capacity = capacity
        self.lookups = 0
        """Ledger queries made so far (a batch of races is one)."""
        self._known: OrderedDict[str, RaceIdentity] = OrderedDict()
        self._lock = threading.Lock()
        # the event loop's side: races waiting for the next lookup, and the task running lookups
        self._waiting: dict[str, _Answer] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def check(self, race_id: str, identity: RaceIdentity) -> None:
        """Raise :class:`RaceConflictError` if ``race_id`` is known with another identity; remember it."""
        stored: RaceIdentity | _Unchecked | None = self._remembered(race_id)
        if stored is None:
            found = self._lookup([race_id])
            stored = found.get(race_id) if isinstance(found, dict) else found
        self._decide(race_id, identity, stored)

    async def check_async(self, race_id: str, identity: RaceIdentity) -> None:
        """:meth:`check` for a request on the event loop: a race not remembered joins the lookup of the
        races new in this loop tick, which starts at the next tick in a worker thread."""
        stored: RaceIdentity | _Unchecked | None = self._remembered(race_id)
        if stored is None:
            loop = asyncio.get_running_loop()
            waiting = self._waiting.get(race_id)
            if waiting is None:
                if not self._waiting:  # the first race of this loop tick: its batch starts at the next
                    loop.call_soon(self._launch, loop)
                waiting = self._waiting[race_id] = loop.create_future()
            stored = await asyncio.shield(waiting)
        self._decide(race_id, identity, stored)

    def _launch(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._waiting = self._waiting, {}
        if batch:
            task = loop.create_task(self._run_batch(loop, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: dict[str, _Answer]) -> None:
        found: dict[str, RaceIdentity] | _Unchecked = _UNCHECKED
        try:
            found = await loop.run_in_executor(None, self._lookup, list(batch))
        finally:
            for race_id, waiting in batch.items():
                if not waiting.done():
                    waiting.set_result(found.get(race_id) if isinstance(found, dict) else found)

    def _lookup(self, race_ids: list[str]) -> dict[str, RaceIdentity] | _Unchecked:
        self.lookups += 1
        try:
            return dict(self.lookup(race_ids))
        except Exception as exc:  # the database is down: the queue's check decides later
            _LOG.debug("race identity of %d race(s) not checked: %s", len(race_ids), exc)
            return _UNCHECKED

    def _remembered(self, race_id: str) -> RaceIdentity | None:
        with self._lock:
            stored = self._known.get(race_id)
            if stored is not None:
                self._known.move_to_end(race_id)
            return stored

    def _decide(self, race_id: str, identity: RaceIdentity, stored: RaceIdentity | _Unchecked | None) -> None:
        with self._lock:
            if stored is None or isinstance(stored, _Unchecked):
                # another request of this process may have claimed the race meanwhile
                stored = self._known.get(race_id, stored)
            if isinstance(stored, _Unchecked):
                return  # not remembered: the ledger is asked again next time
            if stored is not None and stored != identity:
                raise RaceConflictError(race_id, stored, identity)
            self._known[race_id] = identity
            self._known.move_to_end(race_id)
            while len(self._known) > self.capacity:
                self._known.popitem(last=False)
