"""One application's page, and the panels htmx loads into it.

The page shows the app's status (sync, health, revision, source, destination), its conditions
and last error in plain words, the operation in progress, the orphaned resources its project
warns of, and tabs: the resource tree, the diff,
Events and history. A tree node opens the object's live manifest and its diff. The panels render
the API's own answers (the route functions of `tether.api.routes.appviews`, called directly), so
the UI shows exactly what `GET /api/v1/applications/...` would, masking of Secret values
included, and checks the same permissions.

The reads go through `tether.api.routes.common.app_for`: an app the viewer may not see answers
exactly like a missing one.
"""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from tether.api.models import NAME
from tether.api.routes import appviews
from tether.api.routes.common import app_for, app_object
from tether.authz.policies import Action, Resource
from tether.model.resources import ResourceKey
from tether.reconcile.apps import Application
from tether.service import operations as ops
from tether.ui import graphs, links, views, web
from tether.ui.web import Viewer

router = APIRouter(route_class=web.UIRoute, include_in_schema=False)
Who = Annotated[Viewer, Depends(web.viewer)]
Namespace = Annotated[str, Path(pattern=NAME, max_length=63)]
Name = Annotated[str, Path(pattern=NAME, max_length=63)]


def _base(namespace: str, name: str) -> str:
    return f"/applications/{namespace}/{name}"


def status_context(who: Viewer, app: Application) -> dict[str, Any]:
    """What the status and operation panels need (also rendered live by the app's stream)."""
    body = app.body
    status = body.get("status") or {}
    spec = body.get("spec") or {}
    project, obj = app_object(app)
    meta = body.get("metadata") or {}
    annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
    source = spec.get("source") or ((spec.get("sources") or [{}])[0])
    return {
        "app": body,
        "base": _base(app.ref.namespace, app.ref.name),
        "project": project,
        "source": source,
        "destination": spec.get("destination") or {},
        "sync": (status.get("sync") or {}),
        "health": (status.get("health") or {}),
        "operation": status.get("operationState") or {},
        "requested": body.get("operation"),
        "notes": views.explain(body),
        "annotations": annotations,
        "links": links.annotation_links(annotations),
        "automated": bool((spec.get("syncPolicy") or {}).get("automated")),
        "may_sync": who.may(Resource.APPLICATIONS, Action.SYNC, obj),
        "resources": status.get("resources") or [],
        "orphaned": status.get("orphanedResources") or [],
    }


@router.get("/applications/{namespace}/{name}")
async def application(request: Request, namespace: Namespace, name: Name, who: Who) -> Response:
    app = await app_for(who.caller, namespace, name, Action.GET)
    return web.page(request, who, "app.html", **status_context(who, app))


@router.get("/applications/{namespace}/{name}/tree")
async def tree(namespace: Namespace, name: Name, who: Who) -> Response:
    found = await appviews.application_tree(namespace, name, who.caller)
    return web.render(
        "_tree.html",
        base=_base(namespace, name),
        roots=views.nest(found["nodes"]),
        truncated=found["truncated"],
    )


def _diff(shown: dict[str, Any]) -> dict[str, Any]:
    return {**shown, "lines": views.diff_lines(str(shown.get("diff") or ""))}


@router.get("/applications/{namespace}/{name}/diff")
async def diff(namespace: Namespace, name: Name, who: Who) -> Response:
    found = await appviews.application_diff(namespace, name, who.caller)
    return web.render(
        "_diff.html",
        revision=found["revision"],
        summary=found["summary"],
        diffs=[_diff(r) for r in found["resources"]],
    )


@router.get("/applications/{namespace}/{name}/events")
async def events(namespace: Namespace, name: Name, who: Who) -> Response:
    found = await appviews.application_events(namespace, name, who.caller)
    return web.render("_events.html", events=list(reversed(found["items"])))


@router.get("/applications/{namespace}/{name}/dependencies")
async def dependency_graph(namespace: Namespace, name: Name, who: Who) -> Response:
    found = await appviews.application_graph(namespace, name, who.caller)
    me = f"{namespace}/{name}"
    nodes = {f"{n['namespace']}/{n['name']}": n for n in found["nodes"]}
    return web.render(
        "_dependencies.html",
        drawing=graphs.layout(me, nodes, found["edges"]),
        depends_on=[nodes[e["target"]] for e in found["edges"] if e["source"] == me],
        needed_by=[nodes[e["source"]] for e in found["edges"] if e["target"] == me],
    )


@router.get("/applications/{namespace}/{name}/history")
async def history(namespace: Namespace, name: Name, who: Who) -> Response:
    app = await app_for(who.caller, namespace, name, Action.GET)
    context = status_context(who, app)
    entries = list(reversed(ops.history(app)))
    return web.render("_history.html", entries=entries, viewer=who, **context)


@router.get("/applications/{namespace}/{name}/resource")
async def resource(
    namespace: Namespace,
    name: Name,
    who: Who,
    kind: Annotated[str, Query(min_length=1)],
    resource_name: Annotated[str, Query(alias="name", min_length=1)],
    group: str = "",
    resource_namespace: Annotated[str, Query(alias="namespace")] = "",
) -> Response:
    """The live manifest (masked by the API's answer) and, for an object the app deploys, its
    diff."""
    found = await appviews.application_resource(
        namespace,
        name,
        who.caller,
        kind=kind,
        resource_name=resource_name,
        group=group,
        version="",
        resource_namespace=resource_namespace,
    )
    live, changed = found["manifest"], found["diff"]
    return web.render(
        "_resource.html",
        key=ResourceKey(group, kind, resource_namespace, resource_name),
        manifest=yaml.safe_dump(live, sort_keys=False) if live else "",
        diff=_diff(changed) if changed and changed.get("diff") else None,
        managed=changed is not None,
    )
