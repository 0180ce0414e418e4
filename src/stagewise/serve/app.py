"""The FastAPI application: ``create_app(settings)``.

Routes (OpenAPI at ``/openapi.json``, docs at ``/docs``)::

    POST /v1/races/predict    one race -> order, scores, win probabilities, model and variant
    POST /v1/markets/predict  latest bars (or 12 features) -> signal and probability
    POST /v1/results          a race's outcome, joined to its logged predictions
    GET  /healthz             the process is alive
    GET  /readyz              models loaded and verified, database reachable (503 with reasons)
    GET  /metrics             Prometheus text format
    GET  /v1/analysis/{feature}       the rollout controller's verdict (Argo Rollouts' web provider)
    GET|POST /v1/analysis/{feature}/gate  the verdict as 200/412 (Flagger webhooks)
    POST /admin/stage|kill|reload   bearer token from STAGEWISE_ADMIN_TOKEN

Errors have one shape, ``{"message": ..., "detail": [...]}``: 422 for bad input (the message
names the field), 413 for a body over ``max_body_bytes``, 404 for an unknown race in
``/v1/results``, 503 when no model or no database can serve the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from stagewise._exceptions import (
    ConfigError,
    DataValidationError,
    FeatureMismatchError,
    NotFoundError,
    SignatureError,
    StagewiseError,
    StorageError,
)
from stagewise._version import __version__
from stagewise.monitor.records import LedgerRecord
from stagewise.serve.admin import admin_router
from stagewise.serve.analysis import AnalysisService, analysis_router
from stagewise.serve.identity import RaceConflictError
from stagewise.serve.logging_queue import LedgerSink
from stagewise.serve.metrics import CONTENT_TYPE, ServeMetrics
from stagewise.serve.middleware import BodySizeLimit, RequestMetrics
from stagewise.serve.ops_metrics import MonitorCollector, RolloutCollector
from stagewise.serve.schemas import (
    MarketPredictRequest,
    MarketPredictResponse,
    RacePredictRequest,
    RacePredictResponse,
    ResultsRequest,
    ResultsResponse,
)
from stagewise.serve.service import DATABASE_UNREACHABLE, ModelUnavailableError, PredictionService
from stagewise.serve.settings import ADMIN_TOKEN_ENV, ServeSettings, settings_from_env

if TYPE_CHECKING:
    from stagewise.rollout import GradualRollout

__all__ = ["app_from_env", "create_app"]

_LOG = logging.getLogger("stagewise.serve")
_UNSET: Any = object()
_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "Invalid input; 'message' names the field."},
    413: {"description": "Body too large."},
    503: {"description": "No model or no database available."},
}


def _error(
    status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"message": message, "detail": detail or []}, status_code=status, headers=headers)


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # keep loc/msg/type only: the offending input may be NaN or huge, and is not echoed back
    detail = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    message = "; ".join(f"{_field(d['loc'])}: {d['msg']}" for d in detail[:5])
    if len(detail) > 5:
        message += f"; and {len(detail) - 5} more"
    return _error(422, message or "invalid request", detail)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return _error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))


#: The 422 of a signature violation when ``signature_errors="private"`` and no admin token was sent.
PRIVATE_SIGNATURE_MESSAGE = (
    "the input does not match the model's input signature; the details are shown only to requests "
    "with the admin token"
)


def _is_admin(request: Request) -> bool:
    import hmac

    token: str | None = request.app.state.admin_token
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


async def _stagewise_error(request: Request, exc: Exception) -> JSONResponse:
    private = request.app.state.service.settings.signature_errors == "private"
    if isinstance(exc, SignatureError | FeatureMismatchError) and private and not _is_admin(request):
        return _error(422, PRIVATE_SIGNATURE_MESSAGE)
    if isinstance(exc, RaceConflictError):
        return _error(409, str(exc), [exc.stored])
    if isinstance(exc, DataValidationError | ConfigError):
        return _error(422, str(exc))
    if isinstance(exc, NotFoundError):
        return _error(404, str(exc))
    if isinstance(exc, ModelUnavailableError):
        return _error(503, str(exc), headers={"Retry-After": "5"})
    if isinstance(exc, StorageError):
        # the error text may name the database user, host and port: only the admin token sees it
        _LOG.error("ledger database unavailable: %s", exc)
        detail = [{"error": str(exc)}] if _is_admin(request) else None
        return _error(503, DATABASE_UNREACHABLE, detail, headers={"Retry-After": "5"})
    _LOG.error("unexpected stagewise error: %s", exc)
    return _error(500, f"{type(exc).__name__}: {exc}")


def _race_request(body: bytes, content_type: str) -> RacePredictRequest:
    """The request body validated straight from its bytes by the model's compiled validator.

    Errors take FastAPI's shape (``loc`` starts with ``"body"``), so :func:`_validation_error` words
    them as it words every other route's.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media and not (media.endswith("/json") or media.endswith("+json")):
        raise RequestValidationError(
            [
                {
                    "loc": ("body",),
                    "msg": f"send the race as JSON (Content-Type: application/json), not {media!r}",
                    "type": "content_type",
                }
            ]
        )
    try:
        return RacePredictRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI ``requestBody`` of a route that reads its body itself (see :func:`_documented_bodies`)."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"content": {"application/json": {"schema": schema}}, "required": True}}


def _documented_bodies(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Add the schemas of bodies that routes read themselves to the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            _, defs = models_json_schema(
                [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
            )
            spec.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the spec


def create_app(
    settings: ServeSettings | None = None,
    *,
    sink: LedgerSink[LedgerRecord] | None = None,
    rollout: GradualRollout | None = None,
    admin_token: str | None = _UNSET,
) -> FastAPI:
    """Build the prediction server.

    Models and the rollout config are loaded here (so a bad ``--models`` fails at start-up);
    the ledger writer and the periodic reload start with the app's lifespan, and the
    lifespan's shutdown (SIGTERM under uvicorn) drains the ledger queue.

    Parameters
    ----------
    settings : ServeSettings, optional
    sink : LedgerSink, optional
        Where logged predictions go (default: the monitor ledger at ``settings.db_url``).
    rollout : GradualRollout, optional
        Default: ``GradualRollout(settings.rollout_config)``.
    admin_token : str or None, optional
        Default: the ``STAGEWISE_ADMIN_TOKEN`` environment variable; None disables admin routes.
    """
    settings = settings or ServeSettings()
    metrics = ServeMetrics()
    service = PredictionService(settings, sink=sink, rollout=rollout, metrics=metrics)
    token = os.environ.get(ADMIN_TOKEN_ENV) if admin_token is _UNSET else admin_token

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        reloader = asyncio.create_task(_reload_loop(service))
        try:
            yield
        finally:
            reloader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reloader
            lost = await run_in_threadpool(service.close)
            metrics.process_exit()
            _LOG.info("shutdown: ledger queue drained (%d not written)", lost)

    app = FastAPI(
        title="stagewise prediction server",
        version=__version__,
        summary="Race and market predictions routed by the rollout, every answer logged to the ledger.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.admin_token = token or None
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StagewiseError, _stagewise_error)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)

    @app.post(
        "/v1/races/predict",
        response_model=RacePredictResponse,
        responses={
            **_ERRORS,
            409: {
                "description": "The race_id is logged with another date, venue or number; 'detail' has it."
            },
        },
        tags=["predict"],
        openapi_extra=_json_body(RacePredictRequest),
    )
    async def predict_race(request: Request) -> Response:
        """Rank the six boats of one race with the model the rollout routes it to."""
        # the hot path: the body is validated from its bytes, and the service decides whether scoring
        # needs a worker thread (FastAPI's body parsing and thread hop cost more than the models)
        body = _race_request(await request.body(), request.headers.get("content-type", ""))
        answer = await service.predict_race_async(body)
        request.state.model_version, request.state.variant = answer.model.version, answer.model.variant
        # built and checked by the service: serialised once, not validated again against response_model
        return Response(answer.model_dump_json(), media_type="application/json")

    @app.post(
        "/v1/markets/predict", response_model=MarketPredictResponse, responses=_ERRORS, tags=["predict"]
    )
    def predict_market(body: MarketPredictRequest, request: Request) -> MarketPredictResponse:
        """Direction signal for the bar after the last one given."""
        answer = service.predict_market(body)
        request.state.model_version, request.state.variant = answer.model.version, answer.model.variant
        return answer

    @app.post(
        "/v1/results",
        response_model=ResultsResponse,
        responses={**_ERRORS, 404: {"description": "The race was never predicted (or not yet logged)."}},
        tags=["ledger"],
    )
    def post_results(body: ResultsRequest) -> ResultsResponse:
        """Record a race's outcome; every logged prediction of the race is scored against it."""
        return service.record_result(body)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """The process is up (no dependency is checked)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "Not ready; 'reasons' says why."}})
    def readyz() -> JSONResponse:
        """Ready when the champion is loaded and hash-verified and the ledger database answers."""
        ready, report = service.readiness()
        return JSONResponse(report, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def metrics_route() -> Response:
        """Prometheus metrics (of every worker when started with --workers N)."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    app.include_router(admin_router)
    # the verdict reads the ledger the results route writes to: one monitor, opened on first use
    app.state.analysis = AnalysisService(service.rollout, service._monitor)
    metrics.queue_capacity.set(settings.queue_max)
    metrics.live.register(RolloutCollector(service.rollout))
    metrics.live.register(MonitorCollector(service._monitor))
    app.include_router(analysis_router)
    _documented_bodies(app, [RacePredictRequest])
    return app


async def _reload_loop(service: PredictionService) -> None:
    """Check the registry aliases and the rollout config every ``reload_interval_s``."""
    interval = service.settings.reload_interval_s
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(service.watcher.maybe_reload)
            await run_in_threadpool(service.rollout.refresh)
        except Exception as exc:
            _LOG.error("periodic reload failed: %s", exc)


def app_from_env() -> FastAPI:
    """uvicorn factory for ``--workers N``: settings from ``STAGEWISE_SERVE_SETTINGS``."""
    return create_app(settings_from_env())
