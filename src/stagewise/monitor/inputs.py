"""Validate and normalise what callers log, before anything touches the database.

Accepted shapes (see ``docs/monitor.md``):

``predictions`` (best first)
    * the seed's list of dicts ``[{"pit_number": 1, "total_score": 0.61}, ...]`` ordered best first;
      ``pit`` may stand for ``pit_number``, ``score`` for ``total_score``, and an optional
      ``predicted_rank`` (1 = best) orders the list instead of its position; ``win_prob`` in [0, 1];
    * a list of pits, best first: ``[1, 3, 2, 4, 5, 6]``;
    * a mapping pit → score, ordered by descending score: ``{1: 0.61, 2: 0.20, ...}``.

``actual_results``
    * the seed's list of dicts ``[{"pit_number": 1, "rank": 1}, ...]`` ordered by finish; a boat that did
      not finish has ``"status": "F"`` (or one of the codes in :data:`NON_FINISH_STATUSES`) and no rank,
      or the code in ``rank`` itself;
    * a mapping pit → rank or status: ``{1: 1, 2: 3, 3: "転", ...}``;
    * ``None`` or empty: the result is not known yet (the prediction is pending).

Every error is a :class:`~stagewise.DataValidationError` naming the row, the field and the value.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from stagewise._exceptions import DataValidationError
from stagewise.metrics.races import NON_FINISH_STATUSES
from stagewise.monitor.money import Bet, parse_bet

if TYPE_CHECKING:
    from stagewise.monitor.records import RacePrediction

__all__ = [
    "DEFAULT_MODEL_VERSION",
    "DEFAULT_VARIANT",
    "RaceEntry",
    "Routing",
    "encode_result",
    "entry_of_record",
    "normalise_batch",
    "normalise_race",
    "parse_date",
    "parse_result",
    "parse_routing",
    "race_id_text",
]

DEFAULT_MODEL_VERSION = "unversioned"
DEFAULT_VARIANT = "default"
_ACCEPTED_DATES = "a datetime.date, a datetime, a pandas Timestamp or an ISO string 'YYYY-MM-DD'"

Result = dict[int, int | str]


@dataclass(frozen=True, slots=True)
class RaceEntry:
    """One validated prediction (and maybe result) for one race and model version."""

    race_id: str
    race_date: date
    venue_code: int
    race_number: int
    model_version: str
    variant: str
    integration_mode: str
    feature_flags: str  # canonical JSON
    pits: tuple[int, ...]  # predicted order, best first
    scores: tuple[float | None, ...]
    win_probs: tuple[float | None, ...]
    result: Result | None
    digest: str
    bet: Bet | None = None
    """The win ticket on the top pick the client logged (``odds``, ``stake``), or None."""
    routing: Routing | None = None
    """The rollout feature that routed the prediction and its pre-outcome covariate, or None."""

    @property
    def predicted_order(self) -> str:
        return "-".join(map(str, self.pits))


@dataclass(frozen=True, slots=True)
class Routing:
    """What a prediction was routed by: the rollout feature (or None) and a covariate known before
    the outcome (or None), e.g. the champion's probability of its own top pick (CUPED)."""

    rollout_feature: str | None
    covariate: float | None


def parse_routing(rollout_feature: Any, covariate: Any, row: int | None = None) -> Routing | None:
    """The validated routing of a prediction; None when neither field is given.

    Examples
    --------
    >>> parse_routing("new_model", 0.42)
    Routing(rollout_feature='new_model', covariate=0.42)
    >>> parse_routing(None, None) is None
    True
    >>> parse_routing("f", float("nan"))
    Traceback (most recent call last):
    ...
    stagewise._exceptions.DataValidationError: covariate must be a finite number (NaN and inf ...; got nan.
    """
    if rollout_feature is None and covariate is None:
        return None
    feature = None if rollout_feature is None else _text(rollout_feature, "rollout_feature", 64, row)
    return Routing(feature, _float_or_none(covariate, "covariate", row))


def _where(row: int | None) -> str:
    return "" if row is None else f"row {row}: "


def parse_date(value: Any, field: str = "race_date", row: int | None = None) -> date:
    """A calendar date from the accepted forms, or a DataValidationError naming ``field``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    elif type(value).__name__ == "Timestamp" and hasattr(value, "date"):
        if value != value:  # NaT
            pass
        else:
            return value.date()  # type: ignore[no-any-return]
    raise DataValidationError(f"{_where(row)}{field} must be {_ACCEPTED_DATES}; got {value!r}.")


def _int_in(value: Any, field: str, low: int, high: int, row: int | None, i: Any = None) -> int:
    if type(value) is int and low <= value <= high:  # the common case, checked first (hot path)
        return value
    field = field.format(i=i)
    candidate: Any = value
    if isinstance(value, str) and value.strip().isdigit():
        candidate = int(value.strip())
    if isinstance(candidate, bool) or (not isinstance(candidate, int) and not _is_integral(candidate)):
        raise DataValidationError(f"{_where(row)}{field} must be an int in {low}-{high}; got {value!r}.")
    number = int(candidate)
    if not low <= number <= high:
        raise DataValidationError(f"{_where(row)}{field} must be an int in {low}-{high}; got {value!r}.")
    return number


def _is_integral(value: Any) -> bool:
    # numpy integers and integral floats such as 3.0 from a DataFrame
    try:
        return hasattr(value, "__index__") or (isinstance(value, float) and value.is_integer())
    except (TypeError, ValueError):
        return False


def _text(value: Any, field: str, max_len: int, row: int | None, *, allow_int: bool = False) -> str:
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        kind = "a non-empty str or int" if allow_int else "a non-empty str"
        raise DataValidationError(
            f"{_where(row)}{field} must be {kind} of at most {max_len} characters; got {value!r}."
        )
    return value.strip()


def _float_or_none(
    value: Any, field: str, row: int | None, *, unit: bool = False, i: Any = None
) -> float | None:
    if value is None:
        return None
    if type(value) is float and math.isfinite(value) and (not unit or 0.0 <= value <= 1.0):
        return value
    field = field.format(i=i)
    if isinstance(value, bool) or (not isinstance(value, int | float) and not hasattr(value, "__float__")):
        raise DataValidationError(f"{_where(row)}{field} must be a finite number; got {value!r}.")
    number = float(value)
    if not math.isfinite(number) or (unit and not 0.0 <= number <= 1.0):
        accepted = "a number in [0, 1]" if unit else "a finite number (NaN and inf are refused)"
        raise DataValidationError(f"{_where(row)}{field} must be {accepted}; got {value!r}.")
    return number


def _parse_predictions(
    predictions: Any, row: int | None
) -> tuple[tuple[int, ...], tuple[float | None, ...], tuple[float | None, ...]]:
    scores: tuple[float | None, ...]
    probs: tuple[float | None, ...]
    if type(predictions) is list and predictions and all(type(p) is dict for p in predictions):
        pits, scores, probs = _parse_prediction_dicts(predictions, row)  # the seed's shape (hot path)
    elif isinstance(predictions, Mapping):
        items = [(_int_in(p, "predictions pit", 1, 6, row), s) for p, s in predictions.items()]
        scored = [(p, _float_or_none(s, f"predictions[{p}] score", row)) for p, s in items]
        scored.sort(key=lambda ps: -(ps[1] if ps[1] is not None else -math.inf))
        pits = tuple(p for p, _ in scored)
        scores = tuple(s for _, s in scored)
        probs = (None,) * len(pits)
    elif isinstance(predictions, Sequence) and not isinstance(predictions, str | bytes):
        if predictions and all(isinstance(p, Mapping) for p in predictions):
            pits, scores, probs = _parse_prediction_dicts(predictions, row)
        else:
            pits = tuple(_int_in(p, f"predictions[{i}]", 1, 6, row) for i, p in enumerate(predictions))
            scores = probs = (None,) * len(pits)
    else:
        raise DataValidationError(
            f"{_where(row)}predictions must be a list of dicts with 'pit_number' (best first), "
            f"a list of pits "
            f"or a mapping pit -> score; got {type(predictions).__name__}."
        )
    if not pits:
        raise DataValidationError(f"{_where(row)}predictions must name at least one pit; got an empty list.")
    if len(set(pits)) != len(pits):
        dup = sorted({p for p in pits if pits.count(p) > 1})
        raise DataValidationError(
            f"{_where(row)}predictions name pit(s) {dup} more than once; got order {list(pits)}."
        )
    return pits, scores, probs


def _parse_prediction_dicts(
    predictions: Sequence[Mapping[str, Any]], row: int | None
) -> tuple[tuple[int, ...], tuple[float | None, ...], tuple[float | None, ...]]:
    pits: list[int] = []
    scores: list[float | None] = []
    probs: list[float | None] = []
    ranks: list[int] | None = None
    for i, item in enumerate(predictions):
        pit = item.get("pit_number")
        if pit is None:
            pit = item.get("pit")
            if pit is None:
                raise DataValidationError(
                    f"{_where(row)}predictions[{i}] has no 'pit_number' (or 'pit'); got {dict(item)!r}."
                )
        if type(pit) is not int or not 1 <= pit <= 6:
            pit = _int_in(pit, "predictions[{i}].pit_number", 1, 6, row, i)
        pits.append(pit)
        score = item.get("total_score")
        if score is None:
            score = item.get("score")
        if score is not None and (type(score) is not float or not math.isfinite(score)):
            score = _float_or_none(score, "predictions[{i}].total_score", row, i=i)
        scores.append(score)
        prob = item.get("win_prob")
        probs.append(
            None if prob is None else _float_or_none(prob, "predictions[{i}].win_prob", row, unit=True, i=i)
        )
        rank = item.get("predicted_rank")
        if rank is not None:
            if ranks is None:
                ranks = list(range(1, i + 1))
            ranks.append(_int_in(rank, "predictions[{i}].predicted_rank", 1, 6, row, i))
        elif ranks is not None:
            ranks.append(i + 1)
    if ranks is None:
        return tuple(pits), tuple(scores), tuple(probs)
    if len(set(ranks)) != len(ranks):
        raise DataValidationError(f"{_where(row)}predictions give the same predicted_rank twice: {ranks}.")
    order = sorted(range(len(pits)), key=ranks.__getitem__)
    return tuple(pits[k] for k in order), tuple(scores[k] for k in order), tuple(probs[k] for k in order)


def _rank_or_status(value: Any, field: str, row: int | None, i: Any = None) -> int | str:
    if type(value) is int and 1 <= value <= 6:
        return value
    field = field.format(i=i)
    if isinstance(value, str) and value.strip() in NON_FINISH_STATUSES:
        return value.strip()
    if isinstance(value, str) and not value.strip().isdigit():
        raise DataValidationError(
            f"{_where(row)}{field} must be a finishing rank 1-6 or a non-finish status "
            f"{sorted(NON_FINISH_STATUSES)}; got {value!r}."
        )
    return _int_in(value, field, 1, 6, row)


def parse_result(actual_results: Any, row: int | None = None) -> Result | None:
    """Pit → rank or status from the accepted shapes; ``None`` when no result is known yet."""
    if actual_results is None or (hasattr(actual_results, "__len__") and len(actual_results) == 0):
        return None
    result: Result = {}
    if type(actual_results) is not list and isinstance(actual_results, Mapping):
        pairs = [
            (_int_in(p, "actual_results pit", 1, 6, row), _rank_or_status(v, f"actual_results[{p}]", row))
            for p, v in actual_results.items()
        ]
    elif type(actual_results) is list or (
        isinstance(actual_results, Sequence) and not isinstance(actual_results, str | bytes)
    ):
        pairs = []
        for i, item in enumerate(actual_results):
            if type(item) is not dict and not isinstance(item, Mapping):
                raise DataValidationError(
                    f"{_where(row)}actual_results[{i}] must be a dict with 'pit_number' and 'rank' "
                    "(or 'status'); "
                    f"got {item!r}."
                )
            pit_value = item.get("pit_number")
            if pit_value is None:
                pit_value = item.get("pit")
            if pit_value is None:
                raise DataValidationError(
                    f"{_where(row)}actual_results[{i}] has no 'pit_number'; got {dict(item)!r}."
                )
            pit = _int_in(pit_value, "actual_results[{i}].pit_number", 1, 6, row, i)
            status = item.get("status")
            if status not in (None, "finished") and item.get("rank") is None:
                value: int | str = _rank_or_status(status, "actual_results[{i}].status", row, i)
                if isinstance(value, int):
                    raise DataValidationError(
                        f"{_where(row)}actual_results[{i}].status must be 'finished' or one of "
                        f"{sorted(NON_FINISH_STATUSES)}; got {status!r}."
                    )
            else:
                value = _rank_or_status(item.get("rank"), "actual_results[{i}].rank", row, i)
            pairs.append((pit, value))
    else:
        raise DataValidationError(
            f"{_where(row)}actual_results must be a list of dicts with 'pit_number' and 'rank', a mapping "
            f"pit -> rank/status, or None; got {type(actual_results).__name__}."
        )
    for pit, value in pairs:
        if pit in result:
            raise DataValidationError(f"{_where(row)}actual_results name pit {pit} more than once.")
        result[pit] = value
    ranks = [v for v in result.values() if isinstance(v, int)]
    if len(set(ranks)) != len(ranks):
        dup = sorted({r for r in ranks if ranks.count(r) > 1})
        raise DataValidationError(
            f"{_where(row)}actual_results give rank(s) {dup} to more than one boat: {result}."
        )
    return result


def encode_result(result: Result) -> str:
    """Canonical JSON of a result (sorted pits), the form stored and compared.

    Built by hand (it is on the hot path): pits are ints, values are ints or one of the validated
    status codes, none of which needs escaping, so this is exactly ``json.dumps`` with
    ``separators=(",", ":")`` and ``ensure_ascii=False``.
    """
    return (
        "{"
        + ",".join(f'"{p}":{v}' if type(v) is int else f'"{p}":"{v}"' for p, v in sorted(result.items()))
        + "}"
    )


def _flags(value: Any, row: int | None) -> str:
    if value is None:
        return "{}"
    if not isinstance(value, Mapping):
        raise DataValidationError(f"{_where(row)}feature_flags must be a dict (or None); got {value!r}.")
    try:
        return json.dumps(
            dict(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise DataValidationError(
            f"{_where(row)}feature_flags must be JSON-serialisable; got {value!r} ({exc})."
        ) from exc


def normalise_race(
    *,
    race_id: Any,
    race_date: Any,
    venue_code: Any,
    race_number: Any,
    predictions: Any,
    actual_results: Any = None,
    integration_mode: Any = None,
    feature_flags: Any = None,
    model_version: Any = DEFAULT_MODEL_VERSION,
    variant: Any = DEFAULT_VARIANT,
    odds: Any = None,
    stake: Any = None,
    rollout_feature: Any = None,
    covariate: Any = None,
    row: int | None = None,
) -> RaceEntry:
    """Validate one ``log_prediction`` call and return its canonical form.

    ``odds`` (decimal win odds of the top pick, read before the close) and ``stake`` (default 1) are
    the optional bet the prediction implies (:mod:`stagewise.monitor.money`); ``rollout_feature`` and
    ``covariate`` its optional routing (:func:`parse_routing`).
    """
    pits, scores, probs = _parse_predictions(predictions, row)
    result = parse_result(actual_results, row)
    if result is not None:
        unknown = [p for p in pits if p not in result]
        if unknown:
            raise DataValidationError(
                f"{_where(row)}predictions name pit(s) {unknown} that are not in actual_results "
                f"(pits with a result: {sorted(result)})."
            )
    mode = "" if integration_mode is None else _text(integration_mode, "integration_mode", 32, row)
    return _entry(
        race_id, race_date, venue_code, race_number, model_version, variant, mode,
        _flags(feature_flags, row), (pits, scores, probs), result, parse_bet(odds, stake, row), row,
        parse_routing(rollout_feature, covariate, row),
    )  # fmt: skip


def _entry(
    race_id: Any,
    race_date: Any,
    venue_code: Any,
    race_number: Any,
    model_version: Any,
    variant: Any,
    mode: str,
    entry_flags: str,
    boats: tuple[tuple[int, ...], tuple[float | None, ...], tuple[float | None, ...]],
    result: Result | None,
    bet: Bet | None,
    row: int | None,
    routing: Routing | None = None,
) -> RaceEntry:
    """The canonical entry (identity fields checked, digest computed) of parsed boats, flags and bet."""
    pits, scores, probs = boats
    served: tuple[Any, ...] = (pits, scores, probs, mode, entry_flags)
    # a bet and a routing are part of what was served; without them the digest is the one logged
    # before they existed (so an old row re-logged as it was is still unchanged)
    if bet is not None:
        served = (*served, bet)
    if routing is not None:
        served = (*served, routing)
    digest = hashlib.blake2b(repr(served).encode(), digest_size=8).hexdigest()
    return RaceEntry(
        race_id=_text(race_id, "race_id", 64, row, allow_int=True),
        race_date=parse_date(race_date, "race_date", row),
        venue_code=_int_in(venue_code, "venue_code", 1, 24, row),
        race_number=_int_in(race_number, "race_number", 1, 12, row),
        model_version=_text(model_version, "model_version", 64, row),
        variant=_text(variant, "variant", 64, row),
        integration_mode=mode,
        feature_flags=entry_flags,
        pits=pits,
        scores=scores,
        win_probs=probs,
        result=result,
        digest=digest,
        bet=bet,
        routing=routing,
    )


def entry_of_record(record: RacePrediction, row: int | None = None) -> RaceEntry:
    """The canonical entry of a typed record: the checks and canonical form of :func:`normalise_race`
    (ranges, duplicate pits, finite scores, probabilities in [0, 1]) without building a dict.

    Examples
    --------
    >>> from datetime import date
    >>> from stagewise.monitor.records import BoatScore, RacePrediction
    >>> boats = tuple(BoatScore(p, 1.0 / p) for p in (1, 2, 3, 4, 5, 6))
    >>> record = RacePrediction("R1", date(2025, 11, 17), 1, 1, boats, feature_flags={"x": True})
    >>> entry = entry_of_record(record)
    >>> entry == normalise_race(race_id="R1", race_date="2025-11-17", venue_code=1, race_number=1,
    ...     predictions=[{"pit_number": p, "total_score": 1.0 / p} for p in (1, 2, 3, 4, 5, 6)],
    ...     feature_flags={"x": True})
    True
    """
    pits = tuple(
        b.pit if type(b.pit) is int and 1 <= b.pit <= 6 else _int_in(b.pit, f"boats[{i}].pit", 1, 6, row)
        for i, b in enumerate(record.boats)
    )
    scores = tuple(_float_or_none(b.score, f"boats[{i}].score", row) for i, b in enumerate(record.boats))
    probs = tuple(
        _float_or_none(b.win_prob, f"boats[{i}].win_prob", row, unit=True) for i, b in enumerate(record.boats)
    )
    if not pits:
        raise DataValidationError(f"{_where(row)}boats must name at least one pit; got none.")
    if len(set(pits)) != len(pits):
        dup = sorted({p for p in pits if pits.count(p) > 1})
        raise DataValidationError(
            f"{_where(row)}boats name pit(s) {dup} more than once; got order {list(pits)}."
        )
    mode = (
        "" if record.integration_mode is None else _text(record.integration_mode, "integration_mode", 32, row)
    )
    return _entry(
        record.race_id, record.race_date, record.venue_code, record.race_number, record.model_version,
        record.variant, mode, _flags(record.feature_flags, row), (pits, scores, probs), None,
        parse_bet(record.odds, record.stake, row), row,
        parse_routing(record.rollout_feature, record.covariate, row),
    )  # fmt: skip


def normalise_batch(rows: Iterable[Mapping[str, Any]]) -> list[RaceEntry]:
    """Validate every row of a batch (all or nothing); the error names the row index."""
    entries = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise DataValidationError(
                f"row {i}: each batch row must be a dict of log_prediction arguments; got {row!r}."
            )
        unknown = set(row) - _BATCH_FIELDS
        if unknown:
            raise DataValidationError(
                f"row {i}: unknown field(s) {sorted(unknown)}; accepted fields are {sorted(_BATCH_FIELDS)}."
            )
        missing = _REQUIRED_FIELDS - set(row)
        if missing:
            raise DataValidationError(f"row {i}: missing field(s) {sorted(missing)}.")
        entries.append(normalise_race(**row, row=i))
    return entries


_REQUIRED_FIELDS = frozenset({"race_id", "race_date", "venue_code", "race_number", "predictions"})
_BATCH_FIELDS = _REQUIRED_FIELDS | {
    "actual_results",
    "integration_mode",
    "feature_flags",
    "model_version",
    "variant",
    "odds",
    "stake",
    "rollout_feature",
    "covariate",
}


def race_id_text(value: object, row: int | None = None) -> str:
    """A race id as stored: a non-empty str of at most 64 characters, or an int written as one."""
    return _text(value, "race_id", 64, row, allow_int=True)
