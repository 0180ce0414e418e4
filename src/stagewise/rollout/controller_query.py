"""What one controller run is asked: :class:`ControllerQuery`, built once where the request comes in.

``stagewise rollout auto``, the server's ``/v1/analysis`` and the replays all ask the same
question (which feature, judged at what time, which groups, which health window, apply or only
look); the query carries it, validated once, down to :func:`~stagewise.rollout.controller_runner.
run_controller` and :func:`~stagewise.rollout.controller_runner.gather_evidence`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, TypedDict

from stagewise._exceptions import ConfigError
from stagewise.rollout.controller import ControllerPolicy

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["ACTOR", "MAX_HEALTH_WINDOW_DAYS", "ControllerOptions", "ControllerQuery", "as_query"]

ACTOR = "stagewise-controller"
"""Who the controller's audit entries name unless the query says otherwise."""
MAX_HEALTH_WINDOW_DAYS = 28
"""Default widest health window: one short of the minimum sample grows up to this many days."""


@dataclass(frozen=True)
class ControllerQuery:
    """One controller run's question, validated when built.

    Parameters
    ----------
    feature : str
        The feature to judge.
    now : datetime
        The decision time (the clock is passed in); ``through`` defaults to the day before it.
    policy : ControllerPolicy, optional
        Promotion rules; by default the policy's minimum units a day for the health policy's domain.
    dry_run : bool
        Decide only: nothing is applied, audited or notified.
    actor : str
        Who the audit entries name.
    through : date, optional
        The last day read (default: the day before ``now``, in ``now``'s time zone).
    challenger_variant, control_variant : str
        The ledger variants of the two groups (challenger default: ``"on"``, or the only variant
        of the feature's A/B/n split).
    health_window_days : int
        Days pooled for each day's health verdict, widened up to ``max_health_window_days``
        (default :data:`MAX_HEALTH_WINDOW_DAYS`, or ``health_window_days`` if larger) while the
        window holds fewer units than the health policy's minimum sample.
    shadow : tuple of str, optional
        ``(champion_version, challenger_version)``: judge two model versions that both scored
        every race (paired), instead of two variants.
    variants : mapping of str to float, optional
        An A/B/n split of the enabled buckets (default: the feature's ``"variants"`` key).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> q = ControllerQuery("calib", now=datetime(2026, 11, 2, 6, tzinfo=UTC), health_window_days=3)
    >>> q.max_window
    28
    >>> ControllerQuery("calib", now=q.now, health_window_days=0)
    Traceback (most recent call last):
    ...
    stagewise._exceptions.ConfigError: The 'health_window_days' must be an int >= 1. Got 0.
    """

    feature: str
    now: datetime
    policy: ControllerPolicy | None = None
    dry_run: bool = False
    actor: str = ACTOR
    through: date | None = None
    challenger_variant: str | None = None
    control_variant: str = "control"
    health_window_days: int = 7
    max_health_window_days: int | None = None
    shadow: tuple[str, str] | None = None
    variants: Mapping[str, float] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        window = self.health_window_days
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ConfigError(f"The 'health_window_days' must be an int >= 1. Got {window!r}.")
        widest = self.max_health_window_days
        if widest is not None and (
            isinstance(widest, bool) or not isinstance(widest, int) or widest < window
        ):
            raise ConfigError(
                f"The 'max_health_window_days' must be an int >= health_window_days ({window}). "
                f"Got {widest!r}."
            )
        if self.challenger_variant is not None and self.challenger_variant == self.control_variant:
            raise ConfigError(
                f"The challenger and control variants must differ. Got {self.challenger_variant!r} for both."
            )
        shadow = self.shadow
        if shadow is not None and (len(shadow) != 2 or shadow[0] == shadow[1] or not all(shadow)):
            raise ConfigError(
                f"'shadow' must be two different model versions (champion, challenger). Got {shadow!r}."
            )
        if self.variants is not None:
            object.__setattr__(self, "variants", dict(self.variants))

    @property
    def max_window(self) -> int:
        """The widest health window this query allows, in days."""
        if self.max_health_window_days is None:
            return max(self.health_window_days, MAX_HEALTH_WINDOW_DAYS)
        return self.max_health_window_days


class ControllerOptions(TypedDict, total=False):
    """:class:`ControllerQuery`'s fields as keyword arguments (the keyword form of ``run_controller``)."""

    now: datetime
    policy: ControllerPolicy | None
    dry_run: bool
    actor: str
    through: date | None
    challenger_variant: str | None
    control_variant: str
    health_window_days: int
    max_health_window_days: int | None
    shadow: tuple[str, str] | None
    variants: Mapping[str, float] | None


def as_query(query: ControllerQuery | str, **options: Unpack[ControllerOptions]) -> ControllerQuery:
    """``query`` itself, a feature name with its options as a query, or a query with some options changed."""
    if isinstance(query, ControllerQuery):
        return replace(query, **options) if options else query
    if "now" not in options:
        raise TypeError(f"A controller run for the feature {query!r} needs now= (the decision time).")
    return ControllerQuery(query, **options)
