"""Request and response bodies of the prediction server (pydantic; they define the OpenAPI spec).

Every request model forbids unknown fields, refuses strings where numbers go (strict numbers),
NaN and infinity, and checks ranges against the race data schema
(:data:`stagewise.data.races.validation.FLOAT_RANGES`), so a bad request is a 422 that names
the field and never reaches a model.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stagewise.data.races.validation import FLOAT_RANGES
from stagewise.features.technical import FEATURE_NAMES
from stagewise.metrics.races import NON_FINISH_STATUSES

__all__ = [
    "Bar",
    "BoatPrediction",
    "MarketPredictRequest",
    "MarketPredictResponse",
    "ModelAnswer",
    "RaceEntryIn",
    "RacePredictRequest",
    "RacePredictResponse",
    "RaceResultIn",
    "ResultsRequest",
    "ResultsResponse",
]

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
_RACE_ID = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")


def _ranged(name: str) -> object:
    low, high = FLOAT_RANGES[name]
    return Field(ge=low, le=high, description=f"{name}, {low}..{high}")


class RaceEntryIn(BaseModel):
    """One boat's pre-race information (the race data schema without results)."""

    model_config = _STRICT

    pit: Annotated[int, Field(ge=1, le=6)]
    racer_id: Annotated[int, Field(ge=1)]
    racer_class: Literal["A1", "A2", "B1", "B2"]
    national_win_rate: Annotated[float, _ranged("national_win_rate")]
    local_win_rate: Annotated[float, _ranged("local_win_rate")]
    motor_2rate: Annotated[float, _ranged("motor_2rate")]
    boat_2rate: Annotated[float, _ranged("boat_2rate")]
    exhibition_time: Annotated[float, _ranged("exhibition_time")]
    avg_start_timing: Annotated[float, _ranged("avg_start_timing")]


class RacePredictRequest(BaseModel):
    """One race: its identity and exactly six entries, pits 1-6 once each."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={
            "example": {
                "race_id": "20251117-01-01",
                "race_date": "2025-11-17",
                "venue_code": 1,
                "race_number": 1,
                "entries": [
                    {
                        "pit": p,
                        "racer_id": 4000 + p,
                        "racer_class": "A1" if p < 3 else "B1",
                        "national_win_rate": 7.1 - p * 0.4,
                        "local_win_rate": 6.8 - p * 0.3,
                        "motor_2rate": 40.0,
                        "boat_2rate": 35.0,
                        "exhibition_time": 6.70 + p * 0.01,
                        "avg_start_timing": 0.15,
                    }
                    for p in range(1, 7)
                ],
            }
        },
    )

    race_id: Annotated[str, _RACE_ID]
    race_date: Annotated[date, Field(strict=False)]
    venue_code: Annotated[int, Field(ge=1, le=24)]
    race_number: Annotated[int, Field(ge=1, le=12)]
    entries: Annotated[list[RaceEntryIn], Field(min_length=6, max_length=6)]
    win_odds: Annotated[list[Annotated[float, Field(ge=1.0)]], Field(min_length=6, max_length=6)] | None = (
        Field(
            None,
            description="Optional: decimal win odds of pits 1-6 in pit order, read before the close "
            "(never the final odds). The ledger records the odds of the boat the model picks, and its "
            "profit once the result is in: the economic guardrail's money per race (docs/money.md).",
        )
    )
    stake: Annotated[float, Field(gt=0.0)] | None = Field(
        None, description="Optional: the stake on the pick's win ticket (default 1; needs win_odds)."
    )

    @model_validator(mode="after")
    def _stake_needs_odds(self) -> RacePredictRequest:
        if self.stake is not None and self.win_odds is None:
            raise ValueError(
                f"stake needs win_odds (the pick's odds); got stake={self.stake!r} and no win_odds"
            )
        return self

    @field_validator("entries")
    @classmethod
    def _pits_once_each(cls, entries: list[RaceEntryIn]) -> list[RaceEntryIn]:
        pits = [e.pit for e in entries]
        if sorted(pits) != [1, 2, 3, 4, 5, 6]:
            dup = sorted({p for p in pits if pits.count(p) > 1})
            raise ValueError(
                f"a race needs pits 1-6 once each; got pits {pits}"
                + (f" (pit {dup} more than once)" if dup else "")
            )
        return entries


class BoatPrediction(BaseModel):
    """One boat's score (the model's P(win)) and win probability normalised within the race."""

    pit: int
    predicted_rank: int
    score: float
    win_prob: float


class ModelAnswer(BaseModel):
    """Which model answered: its role (``variant`` for the model of an A/B/n variant), registry version
    and ledger variant."""

    role: Literal["champion", "challenger", "variant", "market"]
    version: str
    variant: str


class RacePredictResponse(BaseModel):
    race_id: str
    predicted_order: list[int] = Field(description="Pits, predicted winner first.")
    boats: list[BoatPrediction]
    model: ModelAnswer
    shadow: ModelAnswer | None = Field(None, description="The model that also scored the race (shadow mode).")
    logged: bool = Field(description="False only when the logging queue was full and shed this prediction.")


class Bar(BaseModel):
    """One OHLCV bar."""

    model_config = _STRICT

    timestamp: Annotated[datetime, Field(strict=False)]
    open: Annotated[float, Field(gt=0)]
    high: Annotated[float, Field(gt=0)]
    low: Annotated[float, Field(gt=0)]
    close: Annotated[float, Field(gt=0)]
    volume: Annotated[float, Field(ge=0)]


class MarketPredictRequest(BaseModel):
    """The latest bars of a symbol (at least 50, oldest first) or its 12 ready features."""

    model_config = _STRICT

    symbol: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[\x21-\x7e]+$")]
    timestamp: Annotated[datetime | None, Field(strict=False)] = Field(
        None, description="Bar time the features belong to (required with 'features'; else the last bar's)."
    )
    bars: list[Bar] | None = None
    features: dict[str, float] | None = Field(
        None, description=f"Exactly the 12 features {FEATURE_NAMES}.", json_schema_extra={"maxProperties": 12}
    )

    @model_validator(mode="after")
    def _one_source(self) -> MarketPredictRequest:
        if (self.bars is None) == (self.features is None):
            raise ValueError("give exactly one of 'bars' (the latest bars) or 'features' (the 12 features)")
        if self.features is not None:
            if self.timestamp is None:
                raise ValueError("'timestamp' is required with 'features' (the bar they were computed on)")
            missing = [n for n in FEATURE_NAMES if n not in self.features]
            unknown = sorted(set(self.features) - set(FEATURE_NAMES))
            if missing or unknown:
                raise ValueError(
                    f"features must be exactly {FEATURE_NAMES}; missing {missing}, unknown {unknown}"
                )
        return self


class MarketPredictResponse(BaseModel):
    symbol: str
    timestamp: datetime
    signal: Literal[0, 1] = Field(description="1: the next bar closes higher.")
    probability: float = Field(description="P(next close > this close).")
    model: ModelAnswer
    logged: bool


class RaceResultIn(BaseModel):
    """One boat's outcome: a finishing rank, or a non-finish status code."""

    model_config = _STRICT

    pit: Annotated[int, Field(ge=1, le=6)]
    rank: Annotated[int | None, Field(ge=1, le=6)] = None
    status: str = Field("finished", description=f"'finished' or one of {sorted(NON_FINISH_STATUSES)}.")

    @model_validator(mode="after")
    def _rank_or_status(self) -> RaceResultIn:
        if self.status == "finished":
            if self.rank is None:
                raise ValueError("a finished boat needs a 'rank' 1-6")
        elif self.status in NON_FINISH_STATUSES:
            if self.rank is not None:
                raise ValueError(f"a boat with status {self.status!r} has no rank; got rank {self.rank}")
        else:
            raise ValueError(
                f"status must be 'finished' or one of {sorted(NON_FINISH_STATUSES)}; got {self.status!r}"
            )
        return self


class ResultsRequest(BaseModel):
    """The outcome of a race predicted earlier."""

    model_config = _STRICT

    race_id: Annotated[str, _RACE_ID]
    results: Annotated[list[RaceResultIn], Field(min_length=1, max_length=6)]

    @field_validator("results")
    @classmethod
    def _pits_once(cls, results: list[RaceResultIn]) -> list[RaceResultIn]:
        pits = [r.pit for r in results]
        if len(set(pits)) != len(pits):
            raise ValueError(f"each pit may appear once; got pits {pits}")
        ranks = [r.rank for r in results if r.rank is not None]
        if len(set(ranks)) != len(ranks):
            raise ValueError(f"each rank may be given once; got ranks {ranks}")
        return results


class ResultsResponse(BaseModel):
    race_id: str
    predictions_rescored: int = Field(
        description="Logged predictions of this race scored against the result."
    )
    changed: bool = Field(description="False when the same result was already recorded.")
