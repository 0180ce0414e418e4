"""What a finished promotion leaves: the one place that ends a challenger's rollout.

A challenger that reached the end of its ramp is promoted: it becomes the registry's
production model and ``champion``. From then on there is no challenger, so the rollout
feature that routed races to it must stop doing so, or a server would wait for a
``challenger`` alias that no longer exists (``/readyz`` 503 forever). :func:`finish_promotion`
leaves one coherent state, in an order where every intermediate state also serves:

1. the feature is *completed* (:meth:`GradualRollout.complete`: stage ``disabled`` with a
   ``completed`` record naming the version): every race goes to the champion;
2. the version is promoted (production and ``champion``);
3. the ``challenger`` alias is removed if it still points at that version.

The controller (nothing to decide), the server (no challenger needed to be ready),
``stagewise check status`` and the dashboard read the same
:attr:`~stagewise.rollout.config.FeatureRollout.is_completed`.
"""

from __future__ import annotations

from typing import Protocol

from stagewise.rollout.gradual import GradualRollout

__all__ = ["CHALLENGER_ALIAS", "PromotingRegistry", "finish_promotion"]

CHALLENGER_ALIAS = "challenger"


class PromotingRegistry(Protocol):
    """What :func:`finish_promotion` needs of a :class:`~stagewise.models.ModelRegistry`."""

    def resolve(self, ref: str) -> str: ...

    def promote(self, ref: str) -> str: ...

    def aliases(self) -> dict[str, str]: ...

    def remove_alias(self, alias: str) -> None: ...


def finish_promotion(
    registry: PromotingRegistry,
    rollout: GradualRollout,
    feature: str,
    *,
    reason: str,
    ref: str = CHALLENGER_ALIAS,
    actor: str | None = None,
) -> str:
    """Promote the model ``ref`` names and complete ``feature``'s rollout; return the promoted version.

    Parameters
    ----------
    registry : ModelRegistry
        Where ``ref`` (default the ``challenger`` alias) is promoted to production and ``champion``.
    rollout : GradualRollout
        The rollout whose ``feature`` routed races to the challenger; it is completed (audited).
    reason : str
        Why, for the audit log (required).
    """
    version = registry.resolve(ref)
    rollout.complete(feature, version=version, reason=reason, actor=actor)
    registry.promote(version)
    if registry.aliases().get(CHALLENGER_ALIAS) == version:
        registry.remove_alias(CHALLENGER_ALIAS)
    return version
