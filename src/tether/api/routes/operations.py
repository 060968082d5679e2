"""Operations on an Application: sync, roll back, and the history of what was deployed.

The API server does not run operations. It writes the request into the app's `.operation`
(`service.operations`, with `Execution.CONTROLLER`) and answers 202; the controller responsible
for the app runs it. Running it here as well would give an app two executors whenever a
controller is up. `?wait=true` waits (up to `timeout` seconds) for the controller to finish and
answers 200 with the final operation state, or 202 if it has not. A terminate asks the running
operation to stop at its next step boundary.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response

from tether.api import audits
from tether.api.access import Caller, caller, changing_caller
from tether.api.models import (
    History,
    OperationAccepted,
    ResourceSelector,
    RollbackBody,
    SyncBody,
    Terminated,
)
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
from tether.service import operations as ops
from tether.service.executions import Execution

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
    args = ops.SyncArgs(
        prune=options.prune,
        dry_run=options.dryRun,
        resources=tuple(_selector(r) for r in options.resources),
        revision=options.revision,
        username=who.principal.name,
        ignore_dependencies=options.ignoreDependencies,
    )
    found = await find_app(who, namespace, name)
    action = app_action(Audited.APP_SYNC, found, f"{namespace}/{name}")
    async with audits.audited(who, action, options.model_dump()):
        require_app(who, found, namespace, name, Action.SYNC)
        requested = await ops.sync(who.services.runtime, name, args, Execution.CONTROLLER)
    return await _answer(who, requested, response, wait, timeout)


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
        require_app(who, found, namespace, name, Action.SYNC)
        args = ops.SyncArgs(prune=body.prune, username=who.principal.name)
        rt = who.services.runtime
        requested = await ops.rollback(rt, name, body.id, args, Execution.CONTROLLER)
    return await _answer(who, requested, response, wait, timeout)


@router.post("/applications/{namespace}/{name}/terminate", response_model=Terminated)
async def terminate_operation(
    namespace: Namespace, name: Name, who: Annotated[Caller, Depends(changing_caller)]
) -> dict[str, Any]:
    """Stop the running operation at its next step boundary (its running hooks are deleted);
    a requested operation that has not started is withdrawn."""
    found = await find_app(who, namespace, name)
    action = app_action(Audited.APP_TERMINATE, found, f"{namespace}/{name}")
    async with audits.audited(who, action, {}):
        require_app(who, found, namespace, name, Action.SYNC)
        rt = who.services.runtime
        detail = await ops.terminate(rt, name, who.principal.name, Execution.CONTROLLER)
    return {"application": name, "detail": detail}


async def _answer(
    who: Caller,
    requested: ops.Requested,
    response: Response,
    wait: bool,
    timeout: float | None,
) -> dict[str, Any]:
    name = requested.application
    answer: dict[str, Any] = {"application": name, "operation": requested.request.to_dict()}
    if not wait:
        return answer
    limit = timeout or who.services.settings.wait_timeout
    state = await ops.follow(who.services.runtime, name, requested.before, limit)
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
    return {"items": list(ops.history(app))}
