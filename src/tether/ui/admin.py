"""Projects, clusters and the audit trail, each filtered by what the viewer may see.

Projects and clusters are read as the API reads them (`tether.service.projects`,
`tether.api.credentials`: cluster credentials never leave the server). The audit page pages
backwards through the trail with the same filters as `GET /api/v1/audit`, skipping entries
the viewer may not see.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tether.api import credentials
from tether.audit import queries
from tether.audit.entries import Entry, Result
from tether.authz.policies import Resource
from tether.cluster.registry import IN_CLUSTER
from tether.service import projects as project_use
from tether.ui import applist, web
from tether.ui.web import Viewer

router = APIRouter(route_class=web.UIRoute, include_in_schema=False)
Who = Annotated[Viewer, Depends(web.viewer)]
AUDIT_PAGE = 50
_ROUNDS = 20  # store reads per page at most, however few entries are visible


@router.get("/projects")
async def projects(request: Request, who: Who) -> Response:
    found = await project_use.list_projects(who.caller.services.runtime)
    items = who.caller.visible(Resource.PROJECTS, found, lambda b: str(b["metadata"]["name"]))
    counts = Counter(s["project"] for s in await applist.visible_summaries(who))
    return web.page(request, who, "projects.html", projects=items, counts=counts)


@router.get("/clusters")
async def clusters(request: Request, who: Who) -> Response:
    services = who.caller.services
    kube = services.runtime.kube
    found = await credentials.cluster_secrets(kube, services.namespace)
    shown = [credentials.in_cluster(kube), *(credentials.cluster_info(s) for s in found.values())]
    items = who.caller.visible(Resource.CLUSTERS, shown, lambda c: str(c["name"]))
    apps = await applist.visible_summaries(who)
    counts = Counter(s["destination"]["cluster"] or IN_CLUSTER for s in apps)
    return web.page(request, who, "clusters.html", clusters=items, counts=counts)


def _filter(actor: str, action: str, app: str, result: str, since: str) -> queries.Filter:
    now = dt.datetime.now(dt.UTC)
    try:
        return queries.Filter(
            actor=actor.strip(),
            action=action.strip(),
            object=app.strip(),
            result=Result(result) if result else None,
            since=queries.parse_when(since.strip(), now) if since.strip() else None,
        )
    except (ValueError, OverflowError) as exc:
        raise HTTPException(400, f"invalid filter: {exc}") from None


@router.get("/audit")
async def audit(
    request: Request,
    who: Who,
    actor: str = "",
    action: str = "",
    app: str = "",
    result: Annotated[str, Query(pattern="^(|succeeded|failed|denied)$")] = "",
    since: str = "",
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    log = who.caller.services.audit
    entries: list[Entry] = []
    older = None
    if log is not None:
        where = _filter(actor, action, app, result, since)
        entries, older = await _page(who, log, where, before)
    filters = {"actor": actor, "action": action, "app": app, "result": result, "since": since}
    kept = {k: v for k, v in filters.items() if v}
    return web.page(
        request,
        who,
        "audit.html",
        enabled=log is not None,
        entries=[_entry(e, who.caller.services.namespace) for e in entries],
        filters=filters,
        results=[str(r) for r in Result],
        older_url=f"/audit?{urlencode({**kept, 'before': older})}" if older else "",
    )


async def _page(
    who: Viewer, log: Any, where: queries.Filter, before: int | None
) -> tuple[list[Entry], int | None]:
    found: list[Entry] = []
    cursor = before
    for _ in range(_ROUNDS):
        page = await asyncio.to_thread(log.query, where, AUDIT_PAGE, cursor)
        found.extend(who.caller.visible(Resource.AUDIT, page.entries, lambda e: e.object))
        cursor = page.next_before
        if len(found) >= AUDIT_PAGE or cursor is None:
            break
    items = found[:AUDIT_PAGE]
    return items, (items[-1].id if len(found) > AUDIT_PAGE else cursor)


def _entry(entry: Entry, namespace: str) -> dict[str, Any]:
    """The entry as the API shows it, plus a link to the app's page for an app's entry."""
    shown = entry.to_dict()
    about_app = entry.resource == str(Resource.APPLICATIONS) and "/" in entry.object
    name = entry.object.rpartition("/")[2]
    shown["app_link"] = f"/applications/{namespace}/{name}" if about_app else ""
    return shown
