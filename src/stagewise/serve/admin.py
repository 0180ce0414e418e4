"""Admin routes: change the rollout stage, pull the kill switch, reload models, see the full status.

Every route needs ``Authorization: Bearer <token>`` where the token is the server's
``STAGEWISE_ADMIN_TOKEN`` (compared with :func:`hmac.compare_digest`). No header → 401;
a wrong token → 403; a server started without the variable → every admin route answers 403
saying how to enable them. A refused request changes nothing. Every change is written to the
rollout audit log with actor ``"api"`` and the mandatory ``reason``.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from stagewise._exceptions import NotFoundError
from stagewise.serve.settings import ADMIN_TOKEN_ENV

__all__ = ["ACTOR", "KillRequest", "ReloadRequest", "StageRequest", "admin_router"]

ACTOR = "api"
_STRICT = ConfigDict(extra="forbid", strict=True)
_Reason = Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S", description="Why (audit log).")]
_Feature = Annotated[str | None, Field(None, min_length=1, max_length=64, description="Default: --feature.")]


_Accept = Annotated[
    bool,
    Field(
        False,
        description="The rollout config was edited outside stagewise (see /readyz warnings): keep the edit "
        "and write anyway; recorded in the audit log with the reason.",
    ),
]


class StageRequest(BaseModel):
    model_config = _STRICT
    stage: Annotated[str, Field(min_length=1, max_length=16, examples=["10%", "50%", "100%", "disabled"])]
    reason: _Reason
    feature: _Feature = None
    accept_manual_edit: _Accept = False


class KillRequest(BaseModel):
    model_config = _STRICT
    reason: _Reason
    feature: _Feature = None


class ReloadRequest(BaseModel):
    model_config = _STRICT
    reason: _Reason
    accept_manual_edit: _Accept = False


def _require_admin(request: Request) -> None:
    token: str | None = request.app.state.admin_token
    if not token:
        raise HTTPException(
            403,
            f"admin routes are disabled: start the server with {ADMIN_TOKEN_ENV} set to a secret token "
            "to enable them",
        )
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise HTTPException(
            401, "admin routes need 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"}
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(403, "the admin token is not valid")


admin_router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(_require_admin)])


def _last_audit(rollout: Any) -> dict[str, Any]:
    entries = rollout.audit_log()
    return dict(entries[-1]) if entries else {}


@admin_router.post("/stage", summary="Set the rollout stage of the routing feature")
def set_stage(body: StageRequest, request: Request) -> dict[str, Any]:
    service = request.app.state.service
    feature = body.feature or service.settings.feature
    rollout = service.rollout
    try:
        rollout.feature(feature)
    except NotFoundError:
        state = rollout.add_feature(
            feature, body.stage, reason=body.reason, actor=ACTOR, accept_manual_edit=body.accept_manual_edit
        )
    else:
        state = rollout.update_rollout_stage(
            feature, body.stage, reason=body.reason, actor=ACTOR, accept_manual_edit=body.accept_manual_edit
        )
    return {"feature": feature, "state": state, "audit": _last_audit(rollout)}


@admin_router.post("/kill", summary="Kill switch: send every race to the champion")
def kill(body: KillRequest, request: Request) -> dict[str, Any]:
    service = request.app.state.service
    feature = body.feature or service.settings.feature
    killed = service.rollout.kill(feature, reason=body.reason, actor=ACTOR)
    return {"killed": killed, "audit": _last_audit(service.rollout)}


@admin_router.get("/status", summary="Readiness with the details /readyz keeps private")
def status(request: Request) -> dict[str, Any]:
    service = request.app.state.service
    _ready, report = service.readiness()
    report["ledger_queue"] = {**report["ledger_queue"], "last_error": service.queue.last_error}
    return {**report, "database_error": service.database_error}


@admin_router.post("/reload", summary="Reload models by alias and the rollout config now")
def reload(body: ReloadRequest, request: Request) -> dict[str, Any]:
    service = request.app.state.service
    models = service.watcher.load()
    service.rollout.refresh(force=True)
    feature = service.settings.feature
    try:
        service.rollout.feature(feature)
    except NotFoundError:
        service.rollout.add_feature(
            feature, "disabled", reason=f"created by reload: {body.reason}", actor=ACTOR,
            accept_manual_edit=body.accept_manual_edit,
        )  # fmt: skip
    versions = {role: m.version for role, m in models.models.items()}
    entry = service.rollout.record_audit(
        feature,
        "reload_models",
        reason=body.reason,
        actor=ACTOR,
        details={"versions": versions, "errors": dict(models.errors)},
        accept_manual_edit=body.accept_manual_edit,
    )
    return {"models": versions, "errors": dict(models.errors), "audit": entry}
