"""A race has one date, venue and number: refuse a prediction the ledger would refuse, before answering.

The ledger refuses a ``race_id`` logged again with another date, venue or race number, but the
server logs through a queue, after it has answered. :class:`RaceIdentities` lets it find that
conflict synchronously: races this process logged are remembered (a bounded LRU), and a race it
has not seen is looked up in the ledger's ``races`` table (one primary-key read). When the
database cannot be read the server cannot know, and the queue's check stays the last word.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date

from stagewise._exceptions import DataValidationError

__all__ = ["RaceConflictError", "RaceIdentities", "RaceIdentity"]

RaceIdentity = tuple[date, int, int]
"""``(race_date, venue_code, race_number)``."""

_LOG = logging.getLogger("stagewise.serve")


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
    """The identity of each race the ledger holds, as far as this process can know it synchronously.

    Parameters
    ----------
    lookup : callable
        ``race_id -> (race_date, venue_code, race_number) or None`` from the ledger; may raise when the
        database is down (then the race is not checked).
    capacity : int
        Races remembered (least recently used ones are forgotten and looked up again).

    Examples
    --------
    >>> from datetime import date
    >>> known = RaceIdentities(lambda race_id: None)
    >>> known.check("R1", (date(2025, 11, 17), 1, 1))
    >>> known.check("R1", (date(2025, 11, 18), 1, 1))
    Traceback (most recent call last):
    ...
    stagewise.serve.identity.RaceConflictError: race_id 'R1' is already logged with race_date=2025-11-17, ...
    """

    def __init__(self, lookup: Callable[[str], RaceIdentity | None], capacity: int = 100_000) -> None:
        self.lookup = lookup
        self.capacity = capacity
        self._known: OrderedDict[str, RaceIdentity] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, race_id: str, identity: RaceIdentity) -> None:
        """Raise :class:`RaceConflictError` if ``race_id`` is known with another identity; remember it."""
        with self._lock:
            stored = self._known.get(race_id)
            if stored is not None:
                self._known.move_to_end(race_id)
        if stored is None:
            try:
                stored = self.lookup(race_id)
            except Exception as exc:  # the database is down: the queue's check decides later
                _LOG.debug("race identity of %r not checked: %s", race_id, exc)
                return
        if stored is not None and stored != identity:
            raise RaceConflictError(race_id, stored, identity)
        with self._lock:
            self._known[race_id] = identity
            self._known.move_to_end(race_id)
            while len(self._known) > self.capacity:
                self._known.popitem(last=False)
