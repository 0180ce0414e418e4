"""An OpenFeature provider that answers flags from a :class:`~stagewise.rollout.GradualRollout`.

Register it once and evaluate flags through the vendor-neutral OpenFeature client;
the flag key is the rollout feature name and the targeting key is the race id::

    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext

    api.set_provider(RolloutProvider(GradualRollout()))
    client = api.get_client()
    context = EvaluationContext(targeting_key="202511170101")
    client.get_boolean_value("probability_calibration", False, context)

Resolution (the same bucket as ``should_enable_feature``):

==========================  ==========  =========================================
feature stage               reason      value
==========================  ==========  =========================================
``disabled`` / ``0%``       DISABLED    ``False`` / ``"off"`` (never the caller's
                                        default: a disabled feature stays off)
``100%``                    TARGETING_  ``True`` / ``"on"`` (or the variant)
                            MATCH
anything between            SPLIT       by the race's bucket
==========================  ==========  =========================================

Boolean flags have variants ``on`` / ``off``. String flags return ``on`` / ``off``,
or, when the feature has ``"variants": {"name": weight, ...}`` in its config (or
the provider is given them), the A/B/n variant of
:class:`~stagewise.rollout.experiments.VariantSplit` for enabled races and
``control`` for the others. ``flag_metadata`` carries ``stage``, ``percent``,
``bucket`` (when a targeting key was given) and ``hash_mode``. Unknown flags raise
FLAG_NOT_FOUND, a partial stage without a targeting key TARGETING_KEY_MISSING, and
integer/float/object flags TYPE_MISMATCH; the client then returns the default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import (
    FlagNotFoundError,
    GeneralError,
    TargetingKeyMissingError,
    TypeMismatchError,
)
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from stagewise._exceptions import ConfigError, NotFoundError
from stagewise.rollout.config import HASH_LEGACY, RETIRED_KEY, FeatureRollout
from stagewise.rollout.gradual import GradualRollout

__all__ = ["RolloutProvider"]

ON, OFF = "on", "off"


class RolloutProvider(AbstractProvider):
    """OpenFeature provider backed by a :class:`~stagewise.rollout.GradualRollout`.

    Parameters
    ----------
    rollout : GradualRollout
        Where stages, salts and kill switches come from (refreshed as usual).
    variants : mapping, optional
        ``{flag: {variant: weight}}`` for string flags whose config has no ``variants``.

    Examples
    --------
    >>> from openfeature import api
    >>> from openfeature.evaluation_context import EvaluationContext
    >>> from stagewise.rollout import GradualRollout, MemoryRolloutStore
    >>> rollout = GradualRollout(store=MemoryRolloutStore(), actor="docs")
    >>> _ = rollout.add_feature("calib", "100%", salt="calib")
    >>> api.set_provider(RolloutProvider(rollout))
    >>> details = api.get_client().get_boolean_details("calib", False, EvaluationContext(targeting_key="r1"))
    >>> details.value, str(details.reason), details.flag_metadata["stage"]
    (True, 'TARGETING_MATCH', '100%')
    """

    def __init__(
        self, rollout: GradualRollout, variants: Mapping[str, Mapping[str, float]] | None = None
    ) -> None:
        super().__init__()
        self.rollout = rollout
        self.variants = {flag: dict(weights) for flag, weights in (variants or {}).items()}
        self._splits: dict[tuple[str, tuple[tuple[str, float], ...], int, tuple[str, ...]], Any] = {}

    def get_metadata(self) -> Metadata:
        return Metadata(name="stagewise-rollout")

    # -- resolution ------------------------------------------------------------------------
    def _evaluate(
        self, flag_key: str, context: EvaluationContext | None
    ) -> tuple[FeatureRollout, bool, int | None]:
        try:
            feature = self.rollout.feature(flag_key)
        except NotFoundError as exc:
            raise FlagNotFoundError(str(exc)) from None
        key = context.targeting_key if context is not None else None
        bucket = None
        if key is not None:
            try:
                bucket = feature.bucket(key)
            except ConfigError as exc:
                raise GeneralError(str(exc)) from None
        threshold = feature.threshold
        full = 100 if feature.hash_mode == HASH_LEGACY else 10_000
        if threshold in (0, full):
            return feature, threshold == full, bucket
        if bucket is None:
            raise TargetingKeyMissingError(
                f"Flag {flag_key!r} is at stage {feature.stage.name}: a targeting key (race id) is needed."
            )
        return feature, bucket < threshold, bucket

    @staticmethod
    def _reason(feature: FeatureRollout) -> Reason:
        if feature.stage.is_disabled:
            return Reason.DISABLED
        if feature.stage.percent == 100:
            return Reason.TARGETING_MATCH
        return Reason.SPLIT

    @staticmethod
    def _metadata(feature: FeatureRollout, bucket: int | None) -> dict[str, bool | int | float | str]:
        meta: dict[str, bool | int | float | str] = {
            "stage": feature.stage.name,
            "percent": float(feature.stage.percent),
            "hash_mode": feature.hash_mode,
            "killed": feature.killed is not None,
        }
        if bucket is not None:
            meta["bucket"] = bucket
        return meta

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        feature, enabled, bucket = self._evaluate(flag_key, evaluation_context)
        return FlagResolutionDetails(
            value=enabled,
            reason=self._reason(feature),
            variant=ON if enabled else OFF,
            flag_metadata=self._metadata(feature, bucket),
        )

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        feature, enabled, bucket = self._evaluate(flag_key, evaluation_context)
        weights = feature.extra.get("variants", self.variants.get(flag_key))
        if weights is None:
            value = ON if enabled else OFF
        else:
            split = self._split(flag_key, weights, feature)
            if not enabled:
                value = split.control
            elif bucket is None:  # 100 % without a targeting key: no bucket to split on
                raise TargetingKeyMissingError(
                    f"Flag {flag_key!r} splits variants: a targeting key is needed."
                )
            else:
                value = split.variant_of_bucket(bucket, feature.threshold)
        return FlagResolutionDetails(
            value=value,
            reason=self._reason(feature),
            variant=value,
            flag_metadata=self._metadata(feature, bucket),
        )

    def _split(self, flag_key: str, weights: object, feature: FeatureRollout) -> Any:
        from stagewise.rollout.experiments.variants import VariantSplit

        if not isinstance(weights, Mapping):
            raise GeneralError(
                f"Flag {flag_key!r}: 'variants' must map variant names to weights. Got {weights!r}."
            )
        buckets = 100 if feature.hash_mode == HASH_LEGACY else 10_000
        retired = tuple(str(name) for name in feature.extra.get(RETIRED_KEY, ()))
        cache_key = (flag_key, tuple(sorted(weights.items())), buckets, retired)
        split = self._splits.get(cache_key)
        if split is None:
            try:
                split = VariantSplit(weights, buckets=buckets, retired=retired)
            except ConfigError as exc:
                raise GeneralError(f"Flag {flag_key!r}: {exc}") from None
            self._splits[cache_key] = split
        return split

    def _mismatch(self, flag_key: str, kind: str) -> TypeMismatchError:
        return TypeMismatchError(f"Flag {flag_key!r} is a rollout flag: boolean or string, not {kind}.")

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        raise self._mismatch(flag_key, "integer")

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        raise self._mismatch(flag_key, "float")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        raise self._mismatch(flag_key, "object")
