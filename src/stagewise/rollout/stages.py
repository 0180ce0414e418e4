"""Rollout stages: ``disabled``, ``10%``, ``50%``, ``100%`` and any validated percentage.

A stage is text in the config file (the seed's format) and a number of enabled
buckets at run time. Parsing is strict: ``37`` (no ``%``), ``"ten"``, ``"-5%"``
and ``"150%"`` are refused with a message naming the value and the accepted
forms, never clamped.

Examples
--------
>>> parse_stage("12.5%")
Stage(name='12.5%', percent=Decimal('12.5'))
>>> parse_stage("disabled").percent
Decimal('0')
>>> parse_stage("10%").threshold(), parse_stage("10%").threshold(legacy=True)
(1000, 10)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from stagewise._exceptions import ConfigError
from stagewise.rollout.bucketing import BUCKETS, LEGACY_BUCKETS, threshold

__all__ = ["DISABLED", "SEED_STAGES", "Stage", "next_stage", "parse_stage"]

DISABLED = "disabled"
SEED_STAGES = ("disabled", "10%", "50%", "100%")
"""The seed system's stages, in ramp order."""

_PERCENT = re.compile(r"(\d{1,3})(?:\.(\d{1,2}))?%")
ACCEPTED = (
    "'disabled' or a percentage string from '0%' to '100%' with at most two decimals "
    "(e.g. '10%', '12.5%', '50%', '100%')"
)


@dataclass(frozen=True)
class Stage:
    """A validated rollout stage: its canonical name and the share of units enabled."""

    name: str
    percent: Decimal

    @property
    def is_disabled(self) -> bool:
        """True for ``disabled`` and ``0%``: no unit is enabled."""
        return self.percent == 0

    def threshold(self, *, legacy: bool = False) -> int:
        """Enabled buckets: ``bucket < threshold`` is on (100 buckets in legacy mode)."""
        return threshold(self.percent, LEGACY_BUCKETS if legacy else BUCKETS)

    def __str__(self) -> str:
        return self.name


def parse_stage(value: object) -> Stage:
    """Validate a stage given by a user or read from a config file.

    Parameters
    ----------
    value : str
        ``"disabled"`` or a percentage such as ``"10%"`` or ``"12.5%"`` (0 to 100, at
        most two decimals: one bucket is 0.01 %). Surrounding spaces and a space
        before ``%`` are tolerated; the canonical name drops trailing zeros.

    Raises
    ------
    ConfigError
        For anything else, naming the value and the accepted forms.

    Examples
    --------
    >>> parse_stage(" 50 %").name
    '50%'
    >>> parse_stage("150%")
    Traceback (most recent call last):
    ...
    stagewise._exceptions.ConfigError: The rollout 'stage' must be ... Got '150%' (above 100%).
    """
    if type(value) is not str:
        hint = " (a number needs a '%' sign and quotes, e.g. '37%')" if isinstance(value, int | float) else ""
        raise ConfigError(f"The rollout 'stage' must be {ACCEPTED}. Got {value!r}{hint}.")
    text = value.strip()
    if text.lower() == DISABLED:
        return Stage(DISABLED, Decimal(0))
    match = _PERCENT.fullmatch(text.replace(" ", ""))
    if match is None:
        why = " (negative)" if text.startswith("-") else ""
        raise ConfigError(f"The rollout 'stage' must be {ACCEPTED}. Got {value!r}{why}.")
    percent = Decimal(match.group(1) + ("." + match.group(2) if match.group(2) else ""))
    if percent > 100:
        raise ConfigError(f"The rollout 'stage' must be {ACCEPTED}. Got {value!r} (above 100%).")
    name = format(percent.normalize(), "f") if percent else "0"
    return Stage(f"{name}%", percent)


def next_stage(stage: Stage) -> Stage | None:
    """The next stage of the seed's ramp (disabled → 10% → 50% → 100%), None at 100%.

    A custom percentage moves to the first seed stage above it.

    Examples
    --------
    >>> next_stage(parse_stage("12.5%")).name
    '50%'
    """
    for name in SEED_STAGES[1:]:
        candidate = parse_stage(name)
        if candidate.percent > stage.percent:
            return candidate
    return None
