"""The two domains stagewise predicts, one vocabulary for every package: :class:`Domain`.

A ``Domain`` is a ``str`` (``Domain.MARKETS == "markets"``), so it can stand wherever a domain
name was written before. The ledger's stored rows, the alert-rule files and the Prometheus label
call the markets domain ``"market"``; that name is kept for them (:attr:`Domain.ledger_key`), and
:func:`parse_domain` accepts it from users as well.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from stagewise._exceptions import ConfigError

__all__ = ["Domain", "LedgerKey", "parse_domain"]

LedgerKey = Literal["races", "market"]
"""How the ledger's rows, the alert-rule files and the metrics labels name the two domains."""


class Domain(StrEnum):
    """``races`` (one unit = one race) or ``markets`` (one unit = one bar's direction signal).

    Examples
    --------
    >>> Domain.MARKETS == "markets", Domain.MARKETS.ledger_key
    (True, 'market')
    """

    RACES = "races"
    MARKETS = "markets"

    @property
    def ledger_key(self) -> LedgerKey:
        """The name the ledger's rows, alert-rule files and metrics labels use (``"races"``, ``"market"``)."""
        return _LEDGER_KEYS[self]


_LEDGER_KEYS: dict[Domain, LedgerKey] = {Domain.RACES: "races", Domain.MARKETS: "market"}
_ALIASES = {"market": Domain.MARKETS}


def parse_domain(value: object, field: str = "domain") -> Domain:
    """The :class:`Domain` named by ``value``: ``races``, ``markets`` or the ledger's ``market``.

    Examples
    --------
    >>> parse_domain("market"), parse_domain("races")
    (<Domain.MARKETS: 'markets'>, <Domain.RACES: 'races'>)
    >>> parse_domain("horses", "--domain")
    Traceback (most recent call last):
    ...
    stagewise._exceptions.ConfigError: Unknown --domain 'horses'; accepted: 'races', 'markets' (or 'market').
    """
    if isinstance(value, Domain):
        return value
    if isinstance(value, str):
        if value in _ALIASES:
            return _ALIASES[value]
        try:
            return Domain(value)
        except ValueError:
            pass
    raise ConfigError(f"Unknown {field} {value!r}; accepted: 'races', 'markets' (or 'market').")
