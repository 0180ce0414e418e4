"""A/B/n serving: which model answers each variant of the served feature's split (pure checks).

When the served rollout feature splits its enabled races between variants
(``stagewise rollout variants FEATURE iso=0.5 platt=0.5``), each variant needs a model:
``stagewise serve --variant iso=REF --variant platt=REF`` (settings ``variants = {name = "ref"}``), a
registry alias or version per variant. The mapping must name exactly the split's variants: a variant
without a model, or a mapping entry naming no variant of the split, is refused with one line naming it.
Races of a variant are answered by its model and logged under the variant's own name; control races
are answered by the champion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from stagewise._exceptions import ConfigError, NotFoundError

if TYPE_CHECKING:
    from stagewise.serve.settings import ServeSettings

__all__ = [
    "VARIANT_ROLE_PREFIX",
    "check_served_variants",
    "check_variant_models",
    "variant_of_role",
    "variant_role",
]

VARIANT_ROLE_PREFIX = "variant:"
"""Role of a variant's model in the server's model set: ``variant:<name>``."""


def variant_role(name: str) -> str:
    """The model-set role that serves variant ``name``.

    Examples
    --------
    >>> variant_role("iso"), variant_of_role(variant_role("iso")), variant_of_role("champion")
    ('variant:iso', 'iso', None)
    """
    return VARIANT_ROLE_PREFIX + name


def variant_of_role(role: str) -> str | None:
    """The variant a role serves, or None for champion, challenger and market."""
    return role[len(VARIANT_ROLE_PREFIX) :] if role.startswith(VARIANT_ROLE_PREFIX) else None


def check_variant_models(feature: str, split: Sequence[str] | None, mapping: Mapping[str, str]) -> None:
    """Refuse a mapping that does not name exactly the variants of ``feature``'s split.

    ``split`` is the split's variant names (None: the feature has no split, or is not in the config);
    ``mapping`` is variant name -> registry ref.

    Examples
    --------
    >>> check_variant_models("calib", ["iso", "platt"], {"iso": "m-iso", "platt": "m-platt"})
    >>> check_variant_models("calib", None, {})
    >>> check_variant_models("calib", ["iso", "platt"], {"iso": "m-iso"})
    Traceback (most recent call last):
    ...
    stagewise._exceptions.ConfigError: variant 'platt' of rollout feature 'calib' has no model: ...
    """
    names = list(split or ())
    for name in names:
        if name not in mapping:
            raise ConfigError(
                f"variant {name!r} of rollout feature {feature!r} has no model: map one with "
                f"`--variant {name}=REF` (settings 'variants'), a registry alias or version; "
                f"the split's variants are {names}."
            )
    for name, ref in mapping.items():
        if name not in names:
            have = f"its variants are {names}" if names else "it has no variants split"
            raise ConfigError(
                f"--variant {name}={ref} names no variant of rollout feature {feature!r} ({have}); "
                f"split the feature with `stagewise rollout variants {feature} {name}=WEIGHT ...` "
                "or drop the option."
            )


def check_served_variants(settings: ServeSettings) -> None:
    """What the server checks at start-up, without loading a model: the mapping names exactly the split's
    variants (:func:`check_variant_models`) and every ref is in the registry. ``stagewise serve`` runs it
    before starting workers, so a mistake is one line, not a traceback per worker."""
    from stagewise.models import ModelRegistry
    from stagewise.rollout import GradualRollout
    from stagewise.serve.routing import RaceRouter

    rollout = GradualRollout(settings.rollout_config, refresh_interval=0, actor="api")
    try:
        split = RaceRouter(rollout, settings.feature).split()
    finally:
        rollout.close()
    check_variant_models(settings.feature, split, settings.variants)
    registry = ModelRegistry(settings.models_dir)
    for name, ref in settings.variants.items():
        try:
            registry.resolve(ref)
        except NotFoundError as exc:
            raise ConfigError(f"--variant {name}={ref}: {exc}") from None
