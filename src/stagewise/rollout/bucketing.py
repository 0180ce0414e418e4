"""Deterministic bucketing of units (race ids, user ids) for gradual rollout.

This module is pure: values in, values out, no I/O. Its behaviour is a published
format, specified in ``docs/bucketing.md`` and pinned by the golden vectors in
``tests/rollout/golden_buckets.json``; any other implementation that agrees with
those vectors assigns every unit exactly as stagewise does.

Salted scheme (new features)::

    message = UTF-8(salt) + b":" + UTF-8(unit id)      # ints rendered in decimal
    digest  = BLAKE2b(message, digest_size=8)          # RFC 7693, no key, 8-byte output
    bucket  = (uint64_big_endian(digest) * BUCKETS) >> 64   # BUCKETS = 10_000 (multiply-shift)
    enabled = bucket < threshold(percent)                   # threshold = percent * 100 buckets

Legacy scheme (features of the seed system, no recorded hash mode)::

    bucket  = int(md5(str(race_id)).hexdigest(), 16) % 100
    enabled = bucket < percent

Why BLAKE2b-64: it is in every standard library (Python ``hashlib``, Go
``x/crypto/blake2b``, Rust ``blake2``, Java BouncyCastle, libsodium), it is the
fastest of the universally available hashes in CPython (copy a pre-salted
state, update, digest: about 320 ns of CPU against 410-420 ns for SHA-256 or
MD5 on the development machine), and all its 64 output bits are uniform.
Multiply-shift maps the hash onto buckets in order, so every bucket is
one contiguous range of hash values (a bucket holds ``floor`` or ``ceil`` of
``2**64 / 10_000`` values: a bias of at most ``10_000 / 2**64 ≈ 5e-16``) and the
test ``bucket < t`` is the same as ``digest < cutoff`` on the raw 8 bytes, which
:func:`salted_checker` uses to skip the integer conversion on the hot path.

Examples
--------
>>> bucket_of("probability_calibration:s1", 202511170101)
2969
>>> bucket_of("probability_calibration:s1", "202511170101")  # ints are hashed as their decimal text
2969
>>> legacy_bucket(0), legacy_bucket("0")
(50, 50)
>>> threshold(12.5)
1250
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from stagewise._exceptions import ConfigError

__all__ = [
    "BUCKETS",
    "HASH_NAME",
    "LEGACY_BUCKETS",
    "bucket_of",
    "buckets_of",
    "digest_cutoff",
    "is_enabled",
    "legacy_bucket",
    "legacy_buckets_of",
    "legacy_checker",
    "salted_checker",
    "salted_hasher",
    "threshold",
    "unit_id_text",
]

BUCKETS = 10_000
"""Number of buckets of the salted scheme: one bucket is 0.01 % of units."""

LEGACY_BUCKETS = 100
"""Number of buckets of the seed system's MD5 scheme."""

HASH_NAME = "blake2b-64"
"""Name of the salted scheme's hash, as recorded in configs (``hash_mode``)."""

_ACCEPTED = "str or int (not bool); ints are hashed as their decimal text"
_SEPARATOR = b":"
_HASHERS: dict[str, Any] = {}  # salt -> BLAKE2b state that already absorbed UTF-8(salt) + b":"
_MAX_CACHED_SALTS = 4096


def unit_id_text(unit_id: object) -> str:
    """The text a unit id is hashed as: a ``str`` unchanged, an ``int`` in decimal.

    Anything else (float, bool, None, bytes, ...) is refused, because two
    languages would not agree on its text (``1.0`` vs ``1``, ``True`` vs ``1``).

    Examples
    --------
    >>> unit_id_text(-42), unit_id_text("R-07")
    ('-42', 'R-07')
    """
    kind = type(unit_id)
    if kind is str:
        return unit_id  # type: ignore[return-value]
    if isinstance(unit_id, (int, np.integer)) and not isinstance(unit_id, (bool, np.bool_)):
        return str(int(unit_id))
    raise ConfigError(
        f"The unit id (race id) must be a {_ACCEPTED}. Got {unit_id!r} of type {kind.__name__}."
    )


def _salted_hasher(salt: str) -> Any:
    hasher = _HASHERS.get(salt)
    if hasher is None:
        if type(salt) is not str:
            raise ConfigError(f"The 'salt' must be a str. Got {salt!r} of type {type(salt).__name__}.")
        hasher = hashlib.blake2b(_encode(salt, "salt") + _SEPARATOR, digest_size=8)
        if len(_HASHERS) >= _MAX_CACHED_SALTS:
            _HASHERS.clear()
        _HASHERS[salt] = hasher
    return hasher


def _encode(text: str, field: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(
            f"The {field} {text!r} cannot be encoded as UTF-8 ({exc.reason}); "
            "accepted: text without lone surrogates."
        ) from None


def _unit_bytes(unit_id: object, field: str = "unit id") -> bytes:
    """UTF-8 of the unit id's text (:func:`unit_id_text`): the one place an id becomes bytes."""
    if type(unit_id) is int:
        return str(unit_id).encode()
    return _encode(unit_id_text(unit_id), field)


def bucket_of(salt: str, unit_id: str | int) -> int:
    """Bucket of one unit in ``[0, BUCKETS)`` under the salted scheme.

    Parameters
    ----------
    salt : str
        The feature's salt (stored in its config; by default ``"<feature>:<random hex>"``).
    unit_id : str or int
        The targeting key, e.g. a race id. ``int`` ids are hashed as their decimal text,
        so ``17`` and ``"17"`` share a bucket.

    Examples
    --------
    >>> bucket_of("demo", "race-1") == bucket_of("demo", "race-1")
    True
    >>> 0 <= bucket_of("demo", 2**63) < BUCKETS
    True
    """
    hasher = _salted_hasher(salt).copy()
    hasher.update(_unit_bytes(unit_id))
    return (int.from_bytes(hasher.digest(), "big") * BUCKETS) >> 64


def buckets_of(salt: str, unit_ids: Iterable[str | int] | npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Buckets of many units at once; equal to ``[bucket_of(salt, u) for u in unit_ids]``.

    Hashing itself cannot be vectorised in numpy, so this runs one tight loop over
    a pre-salted hasher and converts all digests to integers in one numpy step.
    A numpy integer array is accepted directly.

    Examples
    --------
    >>> buckets_of("demo", [1, "1", "race-1"]).tolist() == [bucket_of("demo", 1)] * 2 + [
    ...     bucket_of("demo", "race-1")
    ... ]
    True
    """
    copy = _salted_hasher(salt).copy
    digests: list[bytes] = []
    append = digests.append
    for data in _encoded(unit_ids):
        hasher = copy()
        hasher.update(data)
        append(hasher.digest())
    return _multiply_shift(np.frombuffer(b"".join(digests), dtype=">u8"))


def _multiply_shift(hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    # (x * B) >> 64 without 128-bit integers: x = high * 2**32 + low, and both partial
    # products stay below 2**46, so floor((high * B + floor(low * B / 2**32)) / 2**32) is exact.
    high = hashes >> np.uint64(32)
    low = hashes & np.uint64(0xFFFFFFFF)
    buckets = np.uint64(BUCKETS)
    return ((high * buckets + ((low * buckets) >> np.uint64(32))) >> np.uint64(32)).astype(np.int64)


def _encoded(unit_ids: Iterable[str | int] | npt.ArrayLike) -> Iterable[bytes]:
    """UTF-8 bytes of each unit id's text, validating types as :func:`unit_id_text` does."""
    if isinstance(unit_ids, np.ndarray):
        if unit_ids.dtype.kind in "iu":
            return map(str.encode, map(str, unit_ids.ravel().tolist()))
        unit_ids = unit_ids.ravel().tolist()
    if isinstance(unit_ids, (str, bytes)):
        raise ConfigError(
            f"buckets_of needs an iterable of unit ids; got a single {type(unit_ids).__name__} {unit_ids!r}."
        )
    if isinstance(unit_ids, list | tuple):
        try:  # all-str input (the common case) is encoded at C speed; anything else takes the checked path
            return list(map(str.encode, unit_ids))
        except (TypeError, UnicodeEncodeError):
            pass
    return _checked_encoded(unit_ids)  # type: ignore[arg-type]


def _checked_encoded(unit_ids: Iterable[object]) -> Iterable[bytes]:
    for unit_id in unit_ids:
        yield _unit_bytes(unit_id)


def legacy_bucket(race_id: object) -> int:
    """Bucket in ``[0, 100)`` exactly as the seed system assigned it.

    ``int(md5(str(race_id).encode()).hexdigest(), 16) % 100``. The seed hashed
    ``str(race_id)`` whatever its type; floats, bools, None and bytes are refused
    here because their text differs between languages and versions.

    Examples
    --------
    >>> [legacy_bucket(i) for i in range(5)]
    [50, 11, 12, 83, 0]
    """
    return int.from_bytes(hashlib.md5(_unit_bytes(race_id, "race id")).digest(), "big") % LEGACY_BUCKETS


def legacy_buckets_of(race_ids: Iterable[str | int] | npt.ArrayLike) -> npt.NDArray[np.int64]:
    """:func:`legacy_bucket` of many race ids at once."""
    md5 = hashlib.md5
    halves = np.frombuffer(b"".join(md5(data).digest() for data in _encoded(race_ids)), dtype=">u8")
    high, low = halves[0::2] % np.uint64(100), halves[1::2] % np.uint64(100)
    # The MD5 digest is a 128-bit integer high * 2**64 + low, and 2**64 % 100 == 16.
    return ((high * np.uint64(16) + low) % np.uint64(100)).astype(np.int64)


def threshold(percent: float | Decimal | str, buckets: int = BUCKETS) -> int:
    """Number of enabled buckets for a rollout percentage: a unit is on iff ``bucket < threshold``.

    ``percent`` must map to a whole number of buckets (with 10,000 buckets: at most
    two decimals, 0.01 % steps); it is never rounded silently. Raising the
    percentage only adds buckets, so a unit enabled at 10 % stays enabled at 50 %.

    Examples
    --------
    >>> threshold(10), threshold("12.5"), threshold(100)
    (1000, 1250, 10000)
    >>> threshold(10, buckets=LEGACY_BUCKETS)
    10
    """
    try:
        value = Decimal(str(percent))
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        raise ConfigError(f"The rollout percentage must be a number in [0, 100]. Got {percent!r}.")
    exact = value * buckets / Decimal(100)
    if exact != exact.to_integral_value():
        step = Decimal(100) / buckets
        raise ConfigError(
            f"The rollout percentage {percent!r} is not a whole number of buckets; with {buckets} buckets "
            f"accepted percentages are multiples of {step.normalize()} %."
        )
    return int(exact)


def is_enabled(bucket: int, threshold: int) -> bool:
    """Whether a unit in ``bucket`` is enabled at ``threshold`` (``bucket < threshold``)."""
    return bucket < threshold


def salted_checker(salt: str, threshold: int) -> Callable[[str | int], bool]:
    """A fast ``unit_id -> bool`` test equal to ``bucket_of(salt, unit_id) < threshold``.

    This is the one per-unit check (``GradualRollout.should_enable_feature`` calls it). Because
    buckets are assigned by multiply-shift, ``bucket < t`` holds exactly when the 8-byte digest,
    compared as bytes, is below ``ceil(t * 2**64 / BUCKETS)``; comparing bytes avoids building an
    integer per call, and a ``str`` id is encoded in place (the hot path) while anything else goes
    through :func:`unit_id_text`'s checks.

    Examples
    --------
    >>> on = salted_checker("demo", threshold(10))
    >>> [on(i) for i in range(8)] == [bucket_of("demo", i) < 1000 for i in range(8)]
    True
    """
    _check_threshold(threshold, BUCKETS)
    if threshold == 0:
        return _never
    if threshold == BUCKETS:
        return _always
    copy = _salted_hasher(salt).copy
    cutoff = digest_cutoff(threshold)

    def enabled(unit_id: str | int) -> bool:
        hasher = copy()
        try:
            hasher.update(unit_id.encode() if type(unit_id) is str else _unit_bytes(unit_id))
        except UnicodeEncodeError:
            _unit_bytes(unit_id)  # raises the ConfigError that names the id
        return hasher.digest() < cutoff  # type: ignore[no-any-return]

    return enabled


def digest_cutoff(threshold: int) -> bytes:
    """The 8 bytes ``c`` with ``bucket < threshold`` iff ``digest < c`` (for 0 < threshold < BUCKETS).

    ``c = ceil(threshold * 2**64 / BUCKETS)`` big-endian: with multiply-shift the
    digests of bucket ``b`` are exactly those in ``[ceil(b * 2**64 / B), ceil((b+1) * 2**64 / B))``.

    Examples
    --------
    >>> digest_cutoff(5000).hex()
    '8000000000000000'
    """
    _check_threshold(threshold, BUCKETS)
    if not 0 < threshold < BUCKETS:
        raise ConfigError(f"digest_cutoff needs 0 < threshold < {BUCKETS}; 0 and {BUCKETS} need no hashing.")
    return (-((-threshold << 64) // BUCKETS)).to_bytes(8, "big")


def salted_hasher(salt: str) -> Any:
    """A BLAKE2b-64 state that has absorbed ``UTF-8(salt) + b":"``; ``.copy()`` it, then ``update(id)``."""
    return _salted_hasher(salt).copy()


def legacy_checker(threshold: int) -> Callable[[str | int], bool]:
    """A fast ``race_id -> bool`` test equal to ``legacy_bucket(race_id) < threshold`` (0..100)."""
    _check_threshold(threshold, LEGACY_BUCKETS)
    if threshold == 0:
        return _never
    if threshold == LEGACY_BUCKETS:
        return _always
    md5 = hashlib.md5

    def enabled(race_id: str | int) -> bool:
        try:
            data = race_id.encode() if type(race_id) is str else _unit_bytes(race_id, "race id")
        except UnicodeEncodeError:
            data = _unit_bytes(race_id, "race id")  # raises the ConfigError that names the id
        return int.from_bytes(md5(data).digest(), "big") % LEGACY_BUCKETS < threshold

    return enabled


def _check_threshold(value: int, buckets: int) -> None:
    if type(value) is not int or not 0 <= value <= buckets:
        raise ConfigError(f"The 'threshold' must be an int in [0, {buckets}]. Got {value!r}.")


def _never(unit_id: str | int) -> bool:
    unit_id_text(unit_id)  # an invalid id is an error even when the feature is off
    return False


def _always(unit_id: str | int) -> bool:
    unit_id_text(unit_id)
    return True
