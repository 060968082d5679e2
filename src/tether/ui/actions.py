"""Acting on an application from its page: sync (prune, dry run, chosen resources), roll back,
terminate, and the live stream that shows the operation's progress until it finishes.

A sync or rollback is what the API's does, step for step: find the app, open its audit entry,
require `sync` on it inside the entry (a refusal is recorded as denied), then write the request
into `.operation` for the controller. Each click is therefore one audit entry, with the viewer
as actor. The answer is the operation panel; the page's stream then replaces it as the
controller reports (Requested → Running → Succeeded/Failed), with no polling.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from starlette.responses import Response

from tether.api import audits
from tether.api.routes.common import app_action, app_object, find_app, require_app
from tether.api.watch import Change
from tether.audit.entries import Action as Audited
from tether.authz.policies import Action, Resource
from tether.service import operations as ops
from tether.service.executions import Execution
from tether.ui import streams, web
from tether.ui.appdetail import Name, Namespace, status_context
from tether.ui.web import Viewer

router = APIRouter(route_class=web.UIRoute, include_in_schema=False)
Changer = Annotated[Viewer, Depends(web.changing_viewer)]
Who = Annotated[Viewer, Depends(web.viewer)]


@router.post("/applications/{namespace}/{name}/sync")
async def sync(
    namespace: Namespace,
    name: Name,
    who: Changer,
    prune: Annotated[bool, Form()] = False,
    dry_run: Annotated[bool, Form()] = False,
    resource: Annotated[list[str], Form()] = [],  # noqa: B006 - read, never mutated
) -> Response:
    caller = who.caller
    args = ops.SyncArgs(prune=prune, dry_run=dry_run, resources=tuple(resource), username=who.name)
    params = {"prune": prune, "dryRun": dry_run, "resources": list(resource), "revision": ""}
    found = await find_app(caller, namespace, name)
    action = app_action(Audited.APP_SYNC, found, f"{namespace}/{name}")
    async with audits.audited(caller, action, params):
        require_app(caller, found, namespace, name, Action.SYNC)
        await ops.sync(caller.services.runtime, name, args, Execution.CONTROLLER)
    return await _operation(who, namespace, name)


@router.post("/applications/{namespace}/{name}/rollback")
async def rollback(
    namespace: Namespace,
    name: Name,
    who: Changer,
    id: Annotated[int, Form(ge=0)],
    prune: Annotated[bool, Form()] = False,
) -> Response:
    caller = who.caller
    found = await find_app(caller, namespace, name)
    action = app_action(Audited.APP_ROLLBACK, found, f"{namespace}/{name}")
    async with audits.audited(caller, action, {"id": id, "prune": prune}):
        require_app(caller, found, namespace, name, Action.SYNC)
        args = ops.SyncArgs(prune=prune, username=who.name)
        await ops.rollback(caller.services.runtime, name, id, args, Execution.CONTROLLER)
    return await _operation(who, namespace, name)


@router.post("/applications/{namespace}/{name}/terminate")
async def terminate(namespace: Namespace, name: Name, who: Changer) -> Response:
    caller = who.caller
    found = await find_app(caller, namespace, name)
    action = app_action(Audited.APP_TERMINATE, found, f"{namespace}/{name}")
    async with audits.audited(caller, action, {}):
        require_app(caller, found, namespace, name, Action.SYNC)
        await ops.terminate(caller.services.runtime, name, who.name, Execution.CONTROLLER)
    return await _operation(who, namespace, name)


async def _operation(who: Viewer, namespace: str, name: str) -> Response:
    app = require_app(
        who.caller, await find_app(who.caller, namespace, name), namespace, name, Action.GET
    )
    return web.render("_operation.html", **status_context(who, app))


_GONE = (
    '<section id="status" class="status"><p class="error">This application is gone (deleted, '
    "or you may no longer see it).</p></section>"
)


def _live_panels(context: dict[str, object]) -> str:
    status = web.templates.get_template("_status.html").render(**context)
    operation = web.templates.get_template("_operation.html").render(**context)
    orphaned = web.templates.get_template("_orphaned.html").render(**context)
    return status + "\n" + operation + "\n" + orphaned


@router.get("/ui/stream/applications/{namespace}/{name}")
async def app_stream(namespace: Namespace, name: Name, who: Who) -> Response:
    """The app's status and operation panels, re-rendered whenever the app changes."""
    caller = who.caller
    services = caller.services
    require_app(caller, await find_app(caller, namespace, name), namespace, name, Action.GET)

    async def on_change(change: Change | None) -> list[str]:
        if change is not None and change.summary["name"] != name:
            return []
        app = await find_app(caller, namespace, name)
        fresh = Viewer(replace(caller, authz=await services.policies.authorizer()), who.csrf)
        if app is None or not fresh.may(Resource.APPLICATIONS, Action.GET, app_object(app)[1]):
            return [streams.frame("swap", _GONE)]
        return [streams.frame("swap", _live_panels(status_context(fresh, app)))]

    async def frames() -> AsyncIterator[str]:
        async for text in streams.follow(services, on_change):
            yield text

    return streams.response(frames())
