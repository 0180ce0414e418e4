"""``GET /v1/analysis/{feature}``: the rollout controller's verdict for Argo Rollouts and Flagger.

The route runs the controller's decision in dry-run mode (nothing is written: no stage change,
no audit entry, no notification) over the same ledger and rollout config the server uses, and
answers its verdict (:mod:`stagewise.rollout.verdict`), action, reasons and numbers:

* ``GET /v1/analysis/{feature}`` always answers 200 with the JSON (Argo Rollouts' ``web``
  provider reads the whole body as ``result``: ``successCondition: result.verdict == "success"``);
* ``GET|POST /v1/analysis/{feature}/gate?mode=promotion|rollout`` answers with the status code
  alone deciding (Flagger webhooks: 2xx passes, anything else fails). ``promotion`` passes only
  a success (for ``confirm-promotion``/``confirm-traffic-increase`` hooks, which wait);
  ``rollout`` passes everything but a failure (for ``pre-rollout``/``rollout`` hooks, whose
  failures count towards Flagger's rollback threshold, so waiting must not fail them).

A decision depends on complete days up to yesterday, so it is computed once per decision day,
feature stage and query, and cached; a decision that still has days waiting for results is
recomputed after ``pending_ttl_s`` (the late results may change it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from stagewise._exceptions import ConfigError, NotFoundError

if TYPE_CHECKING:
    from stagewise.rollout import GradualRollout
    from stagewise.rollout.outcomes import OutcomeSource

__all__ = [
    "ANALYSIS_FORMAT_VERSION",
    "AnalysisQuery",
    "AnalysisResponse",
    "AnalysisService",
    "analysis_router",
]

ANALYSIS_FORMAT_VERSION = 1
"""Version of the JSON shape; bumped when a field changes meaning or disappears (additions keep it)."""


@dataclass(frozen=True)
class AnalysisQuery:
    """The controller's knobs a caller may set (the defaults of ``stagewise rollout auto``)."""

    days_healthy: int = 3
    min_races: int | None = None
    alpha: float = 0.05
    health_window: int = 7
    max_health_window: int | None = None
    challenger_variant: str | None = None


class AnalysisResponse(BaseModel):
    """The verdict and what it rests on (``numbers`` is the controller's decision numbers)."""

    format_version: int = ANALYSIS_FORMAT_VERSION
    feature: str
    verdict: Literal["success", "failure", "inconclusive"]
    action: Literal["promote", "hold", "rollback", "none"]
    stage: str
    to_stage: str
    killed: bool
    reasons: list[str]
    decision_day: str = Field(description="The day the decision is for; it judges complete days before it.")
    decided_at: str
    summary: dict[str, Any] = Field(description="Flat figures for conditions: streak, rates, p-values.")
    numbers: dict[str, Any]


def _summary(numbers: dict[str, Any], days_healthy: int) -> dict[str, Any]:
    cumulative = numbers.get("cumulative") or {}
    sequential = numbers.get("sequential") or {}
    return {
        "healthy_streak": numbers.get("healthy_streak"),
        "days_healthy_needed": days_healthy,
        "challenger_races": (cumulative.get("challenger") or {}).get("races"),
        "control_races": (cumulative.get("control") or {}).get("races"),
        "challenger_hit_rate_1st": (cumulative.get("challenger") or {}).get("hit_rate_1st"),
        "control_hit_rate_1st": (cumulative.get("control") or {}).get("hit_rate_1st"),
        "harm_p_value_hit_rate_1st": (sequential.get("hit_rate_1st") or {}).get("p_value"),
        "harm_p_value_score_accuracy": (sequential.get("avg_score_accuracy") or {}).get("p_value"),
        "srm_p_value": (numbers.get("srm") or {}).get("p_value"),
        "pending_days": len(numbers.get("pending_days") or []),
    }


_CacheKey = tuple[str, AnalysisQuery, date, str, str | None, bool]
"""feature, query, decision day, stage, when the stage was enabled, killed."""


def _local_now() -> datetime:
    return datetime.now().astimezone()


class AnalysisService:
    """Computes and caches the verdict of a feature; read-only.

    Parameters
    ----------
    rollout : GradualRollout
        The server's rollout (the same config the controller reads).
    monitor : callable returning a PerformanceMonitor (any ``OutcomeSource``)
        Opened on first use (the ledger may be down at start-up).
    clock : callable, optional
        The current time (default: local time, as ``stagewise rollout auto`` uses).
    pending_ttl_s : float
        How long a decision with days still waiting for results stays cached.
    """

    def __init__(
        self,
        rollout: GradualRollout,
        monitor: Callable[[], OutcomeSource],
        *,
        clock: Callable[[], datetime] | None = None,
        pending_ttl_s: float = 60.0,
    ) -> None:
        self.rollout = rollout
        self._monitor = monitor
        self.clock = clock or _local_now
        self.pending_ttl_s = pending_ttl_s
        self._cache: dict[_CacheKey, tuple[float | None, AnalysisResponse]] = {}
        self._lock = threading.Lock()
        self.computed = 0  # decisions computed (not served from the cache), for tests and logs

    def known_features(self) -> list[str]:
        return sorted(self.rollout.get_rollout_status()["feature_rollouts"])

    def analyse(self, feature: str, query: AnalysisQuery | None = None) -> tuple[AnalysisResponse, bool]:
        """``(response, cached)`` for ``feature``; :class:`NotFoundError` names the known features."""
        query = query or AnalysisQuery()
        known = self.known_features()
        if feature not in known:
            raise NotFoundError(
                f"The feature {feature!r} is not in the rollout config; known features: {known or 'none'}."
            )
        now = self.clock()
        state = self.rollout.feature(feature)
        key = (feature, query, now.date(), state.stage.name, state.enabled_at, state.killed is not None)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and (hit[0] is None or time.monotonic() < hit[0]):
                return hit[1], True
            response = self._compute(feature, query, now)
            expires = time.monotonic() + self.pending_ttl_s if response.summary["pending_days"] else None
            # one decision day at a time: older days are never asked for again
            self._cache = {k: v for k, v in self._cache.items() if k[2] == now.date()}
            self._cache[key] = (expires, response)
            return response, False

    def _compute(self, feature: str, query: AnalysisQuery, now: datetime) -> AnalysisResponse:
        from stagewise.rollout.controller import ControllerPolicy, min_units_per_day
        from stagewise.rollout.controller_query import ControllerQuery
        from stagewise.rollout.controller_runner import run_controller
        from stagewise.rollout.verdict import last_stage_move, verdict_of

        min_races = query.min_races or min_units_per_day(self.rollout.health_policy.domain)
        policy = ControllerPolicy(
            days_healthy=query.days_healthy, min_races_per_day=min_races, alpha=query.alpha
        )
        asked = ControllerQuery(
            feature, now=now, policy=policy, dry_run=True, challenger_variant=query.challenger_variant,
            health_window_days=query.health_window, max_health_window_days=query.max_health_window,
        )  # fmt: skip
        decision = run_controller(self.rollout, self._monitor(), asked)
        state = self.rollout.feature(feature)
        killed = state.killed is not None
        last_move = last_stage_move(self.rollout.audit_log(), feature) if state.stage.is_disabled else None
        verdict = verdict_of(decision, killed=killed, last_move=last_move)
        self.computed += 1
        return AnalysisResponse(
            feature=feature,
            verdict=verdict.verdict,
            action=decision.action,
            stage=decision.from_stage,
            to_stage=decision.to_stage,
            killed=killed,
            reasons=list(verdict.reasons),
            decision_day=now.date().isoformat(),
            decided_at=decision.decided_at,
            summary=_summary(decision.numbers, query.days_healthy),
            numbers=decision.numbers,
        )


analysis_router = APIRouter(prefix="/v1/analysis", tags=["analysis"])
_Responses = dict[int | str, dict[str, Any]]
_404: _Responses = {404: {"description": "Unknown feature; the message names the known ones."}}
_503: _Responses = {503: {"description": "The ledger database is unavailable."}}
_422: _Responses = {422: {"description": "A query parameter is out of range; 'message' names it."}}


def _query(
    days_healthy: Annotated[int, Query(ge=1, le=365, description="HEALTHY days needed to promote.")] = 3,
    min_races: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="Units a day needs to be evaluated.")
    ] = None,
    alpha: Annotated[float, Query(gt=0, lt=1, description="Error budget of the harm test.")] = 0.05,
    health_window: Annotated[int, Query(ge=1, le=365, description="Days pooled per health verdict.")] = 7,
    max_health_window: Annotated[
        int | None, Query(ge=1, le=365, description="Widest health window (>= health_window).")
    ] = None,
    challenger_variant: Annotated[
        str | None, Query(min_length=1, max_length=64, description="The A/B/n variant to judge.")
    ] = None,
) -> AnalysisQuery:
    if max_health_window is not None and max_health_window < health_window:
        raise ConfigError(
            f"The 'max_health_window' query parameter must be >= health_window ({health_window}). "
            f"Got {max_health_window}."
        )
    return AnalysisQuery(days_healthy, min_races, alpha, health_window, max_health_window, challenger_variant)


def _answer(request: Request, feature: str, query: AnalysisQuery) -> tuple[AnalysisResponse, dict[str, str]]:
    service: AnalysisService = request.app.state.analysis
    response, cached = service.analyse(feature, query)
    return response, {"X-Stagewise-Cache": "hit" if cached else "miss", "Cache-Control": "no-store"}


@analysis_router.get("/{feature}", response_model=AnalysisResponse, responses={**_404, **_503, **_422})
def analysis(
    feature: str, request: Request, query: Annotated[AnalysisQuery, Depends(_query)]
) -> JSONResponse:
    """The controller's verdict for ``feature``, always 200 (for Argo Rollouts' ``web`` provider).

    ``successCondition: result.verdict == "success"``, ``failureCondition: result.verdict == "failure"``;
    anything else is an inconclusive measurement.
    """
    response, headers = _answer(request, feature, query)
    return JSONResponse(response.model_dump(), headers=headers)


_GATE_RESPONSES: _Responses = {
    412: {"description": "The gate is closed: see 'verdict'."},
    **_404,
    **_503,
    **_422,
}


@analysis_router.post(
    "/{feature}/gate", response_model=AnalysisResponse, responses=_GATE_RESPONSES, operation_id="gate_post"
)
@analysis_router.get(
    "/{feature}/gate", response_model=AnalysisResponse, responses=_GATE_RESPONSES, operation_id="gate_get"
)
def gate(
    feature: str,
    request: Request,
    query: Annotated[AnalysisQuery, Depends(_query)],
    mode: Annotated[
        Literal["promotion", "rollout"],
        Query(description="promotion: only a success passes; rollout: everything but a failure passes."),
    ] = "promotion",
) -> JSONResponse:
    """The verdict as a status code, for Flagger webhooks: 200 passes, 412 does not.

    Flagger POSTs its own JSON (name, namespace, phase, metadata); the body is not read.
    """
    response, headers = _answer(request, feature, query)
    passes = response.verdict == "success" or (mode == "rollout" and response.verdict == "inconclusive")
    return JSONResponse(response.model_dump(), status_code=200 if passes else 412, headers=headers)
