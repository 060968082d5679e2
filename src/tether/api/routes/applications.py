"""Applications: list (filtered, paged summaries), create, get, update the spec, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from tether import crds
from tether.api import audits, summaries
from tether.api.access import Caller, caller, changing_caller
from tether.api.models import ApplicationCreate, ApplicationList, ApplicationPatch
from tether.api.problems import Problem
from tether.api.routes.common import (
    PREFIX,
    PROBLEMS,
    Name,
    Namespace,
    app_action,
    app_for,
    app_object,
    find_app,
    require_app,
    shown,
)
from tether.audit.entries import Action as Audited
from tether.authz.policies import Action, Resource
from tether.service import apps as use
from tether.service.executions import Execution

router = APIRouter(prefix=PREFIX, tags=["applications"], responses=PROBLEMS)
Strings = Annotated[list[str], Query()]


@router.get("/applications", response_model=ApplicationList, response_model_by_alias=True)
async def list_applications(
    who: Annotated[Caller, Depends(caller)],
    project: Strings = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    cluster: str = "",
    namespace: Annotated[str, Query(description="Destination namespace.")] = "",
    health: Strings = [],  # noqa: B006
    sync: Strings = [],  # noqa: B006
    selector: Annotated[str, Query(description="Label selector, as kubectl's -l.")] = "",
    search: Annotated[str, Query(description="Substring of name, repository or path.")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    continue_: Annotated[str, Query(alias="continue")] = "",
) -> dict[str, Any]:
    """Summaries of the Applications the caller may see, filtered on the server."""
    filters = summaries.Filters(
        project=tuple(project),
        cluster=cluster,
        namespace=namespace,
        health=tuple(health),
        sync=tuple(sync),
        selector=summaries.parse_selector(selector),
        search=search,
    )
    after = summaries.decode_continue(continue_) if continue_ else ""
    wanted = (s for s in await _summaries(who) if filters.matches(s))  # cheap checks first

    def visible(chunk: list[summaries.Summary]) -> list[summaries.Summary]:
        return who.visible(Resource.APPLICATIONS, chunk, summaries.app_object)

    items, more = summaries.page(wanted, limit, after, visible)
    return {"items": items, "continue": more}


async def _summaries(who: Caller) -> list[summaries.Summary]:
    """From the shared watch; straight from the API until its first list has arrived."""
    watch = who.services.apps
    if watch.ready:
        return watch.apps()
    return [summaries.summary(a.body) for a in await use.list_apps(who.services.runtime)]


@router.post("/applications", status_code=201)
async def create_application(
    body: ApplicationCreate,
    who: Annotated[Caller, Depends(changing_caller)],
    upsert: bool = False,
) -> dict[str, Any]:
    """Create an Application (the same spec again is a no-op; `upsert` replaces a different
    one). The spec must name a project that admits its sources and destination."""
    name, spec = body.metadata.name, body.spec
    project = spec.get("project") or "default"
    if not isinstance(project, str):
        raise Problem(400, "spec.project must be a string", "bad-request")
    action = audits.Action(Audited.APP_CREATE, Resource.APPLICATIONS, f"{project}/{name}", project)
    async with audits.audited(who, action, {"spec": spec, "upsert": upsert}):
        who.require_new(Resource.APPLICATIONS, Action.CREATE, action.object, f"application {name}")
        existing = await find_app(who, who.services.namespace, name)
        if existing is not None and upsert:
            require_app(who, existing, who.services.namespace, name, Action.UPDATE)
        manifest = _manifest(who.services.namespace, body)
        try:
            created = await use.create_body(who.services.runtime, manifest, upsert)
        except use.Refused:
            raise
        except use.UseCaseError as exc:
            raise Problem(409, str(exc), "conflict") from None
    return shown(created.body)


def _manifest(namespace: str, body: ApplicationCreate) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": body.metadata.name, "namespace": namespace}
    if body.metadata.labels:
        metadata["labels"] = dict(body.metadata.labels)
    return {
        "apiVersion": crds.API_VERSION,
        "kind": "Application",
        "metadata": metadata,
        "spec": body.spec,
    }


@router.get("/applications/{namespace}/{name}")
async def get_application(
    namespace: Namespace, name: Name, who: Annotated[Caller, Depends(caller)]
) -> dict[str, Any]:
    """The Application: spec, status (sync, health, conditions, resources, history)."""
    return shown((await app_for(who, namespace, name, Action.GET)).body)


@router.patch("/applications/{namespace}/{name}")
async def update_application(
    namespace: Namespace,
    name: Name,
    body: ApplicationPatch,
    who: Annotated[Caller, Depends(changing_caller)],
) -> dict[str, Any]:
    """Change the spec with a JSON merge patch. Moving an app to another project needs
    `update` on it in both projects."""
    found = await find_app(who, namespace, name)
    action = app_action(Audited.APP_UPDATE, found, f"{namespace}/{name}")
    async with audits.audited(who, action, {"spec": body.spec}):
        app = require_app(who, found, namespace, name, Action.UPDATE)
        merged = use.merge_patch(dict(app.raw_spec), body.spec)
        moved_to = merged.get("project") or "default"
        if moved_to != app_object(app)[0]:
            target = f"{moved_to}/{name}"
            who.require_new(Resource.APPLICATIONS, Action.UPDATE, target, f"application {target}")
        updated = await use.update_spec(who.services.runtime, name, body.spec)  # admitted
    return shown(updated.body)


@router.delete("/applications/{namespace}/{name}", status_code=204)
async def delete_application(
    namespace: Namespace,
    name: Name,
    who: Annotated[Caller, Depends(changing_caller)],
    cascade: Annotated[bool, Query(description="Also delete what it deployed.")] = True,
) -> Response:
    """Delete an Application. With `cascade` (the default) the controller first deletes every
    object the app deployed (the resources finalizer); without, they stay."""
    found = await find_app(who, namespace, name)
    action = app_action(Audited.APP_DELETE, found, f"{namespace}/{name}")
    async with audits.audited(who, action, {"cascade": cascade}):
        require_app(who, found, namespace, name, Action.DELETE)
        await use.delete(who.services.runtime, name, cascade, Execution.CONTROLLER)
    return Response(status_code=204)
