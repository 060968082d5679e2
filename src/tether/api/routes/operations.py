"""Operations on an Application: sync, roll back, and the history of what was deployed.

The API server does not run syncs. It writes the request into the app's `.operation` (the
service layer's `request_sync`/`request_rollback`) and answers 202; the controller, which owns
the app through its shard lease, runs it. Running it here as well would give an app two
executors whenever a controller is up. `?wait=true` waits (up to `timeout` seconds) for the
controller to finish and answers 200 with the final operation state, or 202 if it has not.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response

from tether.api import audits
from tether.api.access import Caller, caller, changing_caller
from tether.api.models import History, OperationAccepted, ResourceSelector, RollbackBody, SyncBody
from tether.api.routes.common import (
    PREFIX,
    PROBLEMS,
    Name,
    Namespace,
    app_action,
    app_for,
    find_app,
    require_app,
)
from tether.audit.entries import Action as Audited
from tether.authz.policies import Action
from tether.engine.operation import OperationRequest
from tether.service import apps as use

router = APIRouter(prefix=PREFIX, tags=["applications"], responses=PROBLEMS)
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    200: {"description": "With wait=true: the operation finished."}
}
Wait = Annotated[bool, Query(description="Wait for the controller to finish the operation.")]
Timeout = Annotated[float | None, Query(gt=0, le=3600, description="Seconds to wait.")]


def _selector(r: ResourceSelector) -> str:
    where = f"{r.namespace}/" if r.namespace else ""
    return f"{r.group}:{r.kind}:{where}{r.name}"


@router.post(
    "/applications/{namespace}/{name}/sync",
    status_code=202,
    response_model=OperationAccepted,
    responses=_ACCEPTED,
)
async def sync_application(
    namespace: Namespace,
    name: Name,
    who: Annotated[Caller, Depends(changing_caller)],
    response: Response,
    body: Annotated[SyncBody | None, Body()] = None,
    wait: Wait = False,
    timeout: Timeout = None,
) -> dict[str, Any]:
    """Request a sync (prune, dry run, a subset of resources, another revision)."""
    options = body or SyncBody()
    args = use.SyncArgs(
        prune=options.prune,
        dry_run=options.dryRun,
        resources=tuple(_selector(r) for r in options.resources),
        revision=options.revision,
        username=who.principal.name,
    )
    found = await find_app(who, namespace, name)
    action = app_action(Audited.APP_SYNC, found, f"{namespace}/{name}")
    async with audits.audited(who, action, options.model_dump()):
        app = require_app(who, found, namespace, name, Action.SYNC)
        before = use.operation_id(app)
        request = await use.request_sync(who.services.runtime, name, args)
    return await _answer(who, name, request, before, response, wait, timeout)


@router.post(
    "/applications/{namespace}/{name}/rollback",
    status_code=202,
    response_model=OperationAccepted,
    responses=_ACCEPTED,
)
async def rollback_application(
    namespace: Namespace,
    name: Name,
    body: RollbackBody,
    who: Annotated[Caller, Depends(changing_caller)],
    response: Response,
    wait: Wait = False,
    timeout: Timeout = None,
) -> dict[str, Any]:
    """Deploy a history entry's revision and source again (apps without automated sync)."""
    found = await find_app(who, namespace, name)
    action = app_action(Audited.APP_ROLLBACK, found, f"{namespace}/{name}")
    async with audits.audited(who, action, body.model_dump()):
        app = require_app(who, found, namespace, name, Action.SYNC)
        before = use.operation_id(app)
        args = use.SyncArgs(prune=body.prune, username=who.principal.name)
        request = await use.request_rollback(who.services.runtime, name, body.id, args)
    return await _answer(who, name, request, before, response, wait, timeout)


async def _answer(
    who: Caller,
    name: str,
    request: OperationRequest,
    before: str,
    response: Response,
    wait: bool,
    timeout: float | None,
) -> dict[str, Any]:
    answer: dict[str, Any] = {"application": name, "operation": request.to_dict()}
    if not wait:
        return answer
    limit = timeout or who.services.settings.wait_timeout
    state = await use.wait_operation(who.services.runtime, name, before, limit)
    if state is not None:
        response.status_code = 200
        answer.update(state=state.to_dict(), finished=True)
    return answer


@router.get("/applications/{namespace}/{name}/history", response_model=History)
async def application_history(
    namespace: Namespace, name: Name, who: Annotated[Caller, Depends(caller)]
) -> dict[str, Any]:
    """Past successful syncs, oldest first (ids for rollback)."""
    app = await app_for(who, namespace, name, Action.GET)
    return {"items": list(use.history(app))}
