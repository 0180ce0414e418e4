"""A/B/n variants that share a feature's enabled buckets.

A feature at stage ``p %`` enables the units whose bucket is below
``threshold(p)`` (see :mod:`stagewise.rollout.bucketing`). A :class:`VariantSplit`
divides those enabled buckets between several variants by weight; every unit
outside the enabled range is in the control group.

Each bucket carries one fixed variant, given by a table that depends only on the
weights, never on the stage. Raising the ramp from 10 % to 50 % therefore only
adds buckets: every unit already enabled keeps its variant. The table is laid out
by *smooth weighted round robin* (the interleaving nginx uses for weighted
upstreams): walking the buckets in order, each variant earns its weight and the
variant with the largest credit takes the bucket and pays one. In every prefix of
``T`` buckets a variant then holds ``weight * T`` buckets up to less than one
bucket per variant, so the split is as exact at 0.5 % as at 100 %, and the
sample-ratio check (:mod:`stagewise.rollout.experiments.srm`) can use the exact
bucket shares of :meth:`VariantSplit.expected_shares`.

A variant can be *retired* (the controller rolled it back): its buckets return to control, and
the table is still laid out with its weight, so every other variant keeps exactly its buckets
(and its units) and no unit moves from one variant to another. The config keeps the retired
names under the feature's ``"retired_variants"`` key, beside ``"variants"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from stagewise._exceptions import ConfigError
from stagewise.rollout.bucketing import BUCKETS, bucket_of, threshold
from stagewise.rollout.config import RETIRED_KEY

__all__ = ["CONTROL", "RETIRED_KEY", "VariantSplit"]

CONTROL = "control"
"""Default name of the group of units outside the enabled range."""

_WEIGHT_TOLERANCE = 1e-9


@lru_cache(maxsize=64)
def _bucket_table(weights: tuple[float, ...], buckets: int) -> npt.NDArray[np.int16]:
    """Variant index of each bucket by smooth weighted round robin (ties go to the first variant)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    credit = np.zeros_like(w)
    table = np.empty(buckets, dtype=np.int16)
    for bucket in range(buckets):
        credit += w
        chosen = int(np.argmax(credit))
        credit[chosen] -= 1.0
        table[bucket] = chosen
    table.setflags(write=False)
    return table


class VariantSplit:
    """Weights of the variants that share a feature's enabled buckets.

    Parameters
    ----------
    weights : mapping of str to float
        Variant name to weight. Weights are finite, non-negative and sum to 1
        (within 1e-9); names are unique, non-empty and differ from ``control``.
    control : str, default "control"
        Name reported for units outside the enabled range.
    buckets : int, default 10_000
        Bucket resolution of the feature (100 for the seed's legacy MD5 scheme).
    retired : iterable of str, default ()
        Variants rolled back out of the split: their buckets go to control, every other bucket
        keeps its variant. :attr:`names` lists only the active variants.

    Examples
    --------
    >>> split = VariantSplit({"calib_v2": 0.5, "calib_v3": 0.5})
    >>> split.variant_of_bucket(0, enabled_buckets=1000), split.variant_of_bucket(1, enabled_buckets=1000)
    ('calib_v2', 'calib_v3')
    >>> split.variant_of_bucket(5000, enabled_buckets=1000)
    'control'
    >>> {k: round(v, 3) for k, v in split.expected_shares(10).items()}
    {'control': 0.9, 'calib_v2': 0.05, 'calib_v3': 0.05}
    >>> retired = VariantSplit({"calib_v2": 0.5, "calib_v3": 0.5}, retired=["calib_v2"])
    >>> retired.names, retired.variant_of_bucket(0, 1000), retired.variant_of_bucket(1, 1000)
    (('calib_v3',), 'control', 'calib_v3')
    """

    def __init__(
        self,
        weights: Mapping[str, float],
        control: str = CONTROL,
        buckets: int = BUCKETS,
        retired: Iterable[str] = (),
    ) -> None:
        if not isinstance(control, str) or not control:
            raise ConfigError(f"The 'control' name must be a non-empty str. Got {control!r}.")
        if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
            raise ConfigError(f"The 'buckets' parameter must be an int >= 1. Got {buckets!r}.")
        names, values = _validated(weights, control)
        gone = _retired(retired, names)
        self.control = control
        self.buckets = buckets
        self.slots: tuple[str, ...] = names
        """Every variant of the table, retired ones included, in table order."""
        self.weights: tuple[float, ...] = values
        self.retired: tuple[str, ...] = tuple(n for n in names if n in gone)
        self.names: tuple[str, ...] = tuple(n for n in names if n not in gone)
        self._table = _bucket_table(values, buckets)
        # table slot -> index into names (-1: retired, i.e. control)
        active = {n: i for i, n in enumerate(self.names)}
        self._slot_index = np.array([active.get(n, -1) for n in names], dtype=np.int16)

    def __repr__(self) -> str:
        pairs = ", ".join(f"{n!r}: {w!r}" for n, w in zip(self.slots, self.weights, strict=True))
        retired = f", retired={list(self.retired)!r}" if self.retired else ""
        return f"VariantSplit({{{pairs}}}, control={self.control!r}, buckets={self.buckets}{retired})"

    @property
    def groups(self) -> tuple[str, ...]:
        """Control followed by the variants: every name a unit can be assigned."""
        return (self.control, *self.names)

    def _enabled(self, enabled_buckets: int) -> int:
        if isinstance(enabled_buckets, bool) or not isinstance(enabled_buckets, (int, np.integer)):
            raise ConfigError(
                f"'enabled_buckets' must be an int in [0, {self.buckets}]. Got {enabled_buckets!r}."
            )
        if not 0 <= enabled_buckets <= self.buckets:
            raise ConfigError(
                f"'enabled_buckets' must be an int in [0, {self.buckets}]. Got {enabled_buckets!r}."
            )
        return int(enabled_buckets)

    def variant_of_bucket(self, bucket: int, enabled_buckets: int) -> str:
        """Group of a unit in ``bucket`` when the first ``enabled_buckets`` buckets are enabled."""
        enabled = self._enabled(enabled_buckets)
        if not 0 <= bucket < self.buckets:
            raise ConfigError(f"'bucket' must be an int in [0, {self.buckets}). Got {bucket!r}.")
        if bucket >= enabled:
            return self.control
        index = int(self._slot_index[int(self._table[bucket])])
        return self.control if index < 0 else self.names[index]

    def variant_indices(self, buckets: npt.ArrayLike, enabled_buckets: int) -> npt.NDArray[np.int16]:
        """Vectorised assignment: ``-1`` for control, else the index into :attr:`names`."""
        enabled = self._enabled(enabled_buckets)
        arr = np.asarray(buckets)
        if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= self.buckets):
            raise ConfigError(f"'buckets' must hold ints in [0, {self.buckets}).")
        slots = self._slot_index[self._table[np.clip(arr, 0, self.buckets - 1)]]
        out = np.where(arr < enabled, slots, -1)
        return out.astype(np.int16)

    def variant_of(self, salt: str, unit_id: str | int, percent: float | str) -> str:
        """Group of a unit under the salted scheme at rollout ``percent`` (10_000 buckets only)."""
        if self.buckets != BUCKETS:
            raise ConfigError(
                f"variant_of hashes with the salted scheme ({BUCKETS} buckets); this split has "
                f"buckets={self.buckets}. Use variant_of_bucket with the legacy bucket instead."
            )
        return self.variant_of_bucket(bucket_of(salt, unit_id), threshold(percent, self.buckets))

    def bucket_counts(self, enabled_buckets: int) -> dict[str, int]:
        """Number of buckets each group holds when ``enabled_buckets`` are enabled."""
        enabled = self._enabled(enabled_buckets)
        per_slot = np.bincount(self._table[:enabled], minlength=len(self.slots))
        counts = {self.control: self.buckets - enabled}
        for name, count in zip(self.slots, per_slot, strict=True):
            if name in self.retired:
                counts[self.control] += int(count)
            else:
                counts[name] = int(count)
        return counts

    def expected_shares(self, percent: float | str) -> dict[str, float]:
        """Exact share of units each group should receive at rollout ``percent``.

        These are bucket shares (not the nominal weights), so they are what a
        sample-ratio check should compare the observed counts with.
        """
        counts = self.bucket_counts(threshold(percent, self.buckets))
        return {name: count / self.buckets for name, count in counts.items()}


def _retired(retired: Iterable[str], names: tuple[str, ...]) -> set[str]:
    if isinstance(retired, str) or not isinstance(retired, Iterable):
        raise ConfigError(f"'retired' must be a list of variant names. Got {retired!r}.")
    gone = set()
    for name in retired:
        if name not in names:
            raise ConfigError(
                f"'retired' names a variant that is not in the split: {name!r}; accepted: {list(names)}."
            )
        gone.add(name)
    return gone


def _validated(weights: Mapping[str, float], control: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    if not isinstance(weights, Mapping):
        raise ConfigError(f"Variant 'weights' must be a mapping of name to weight. Got {weights!r}.")
    if not weights:
        raise ConfigError("Variant 'weights' must name at least one variant. Got {}.")
    names: list[str] = []
    values: list[float] = []
    for name, weight in list(weights.items()):
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"Variant names must be non-empty strings. Got {name!r}.")
        if name == control:
            raise ConfigError(
                f"Variant name {name!r} is reserved for the units outside the enabled range; "
                "choose another name or pass control=... ."
            )
        if name in names:
            raise ConfigError(f"Variant names must be unique. Got {name!r} twice.")
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.floating, np.integer)):
            raise ConfigError(f"The weight of variant {name!r} must be a number in [0, 1]. Got {weight!r}.")
        value = float(weight)
        if not math.isfinite(value) or value < 0.0 or value > 1.0:
            raise ConfigError(f"The weight of variant {name!r} must be a number in [0, 1]. Got {weight!r}.")
        names.append(name)
        values.append(value)
    total = math.fsum(values)
    if abs(total - 1.0) > _WEIGHT_TOLERANCE:
        raise ConfigError(
            f"Variant weights must sum to 1 (within {_WEIGHT_TOLERANCE:g}). Got {values!r}, "
            f"summing to {total!r}."
        )
    return tuple(names), tuple(values)
