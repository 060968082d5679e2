"""The applications list: filters and search in the query string, numbered pages, live rows.

`/` renders the whole page; the same URL asked by htmx (the filter form, the pager) answers
only the table, so the address bar always holds a reloadable, shareable view. Everything is
computed from the API's shared watch of Applications (summaries), never per request from the
cluster, so a page of a thousand apps is one pass in memory.

Live: `/ui/stream/applications` sends each visible change as the re-rendered row (the page
replaces it if it shows it), `gone` for a deleted app, and `changed` for an app the page might
need to show (it reloads its table, which also catches up after a reconnect).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from tether.api import summaries
from tether.api.summaries import Summary
from tether.api.watch import Change
from tether.authz.policies import Action, Resource
from tether.service import apps as use
from tether.ui import streams, views, web
from tether.ui.web import Viewer

router = APIRouter(route_class=web.UIRoute, include_in_schema=False)
Who = Annotated[Viewer, Depends(web.viewer)]
Strings = Annotated[list[str], Query()]
_FILTER_KEYS = ("project", "cluster", "namespace", "health", "sync", "selector", "search", "view")
Layout = Annotated[str, Query(pattern="^(list|grid)$")]
_ITEM = {"list": "_app_row.html", "grid": "_app_card.html"}


async def visible_summaries(who: Viewer) -> list[Summary]:
    services = who.caller.services
    watch = services.apps
    if watch.ready:
        apps = watch.apps()
    else:  # the watch has not listed yet: read the API once
        found = await use.list_apps(services.runtime)
        apps = [summaries.summary(a.body) for a in found]
    return who.caller.visible(Resource.APPLICATIONS, apps, summaries.app_object)


def _query(request: Request, **changes: Any) -> str:
    kept = [k for k in _FILTER_KEYS if k not in changes]
    params = [(k, v) for k, v in request.query_params.multi_items() if k in kept and v]
    params += [(k, str(v)) for k, v in changes.items()]
    return "/?" + urlencode(params) if params else "/"


@router.get("/")
async def applications(
    request: Request,
    who: Who,
    project: Strings = [],  # noqa: B006 - FastAPI reads the default, never mutates it
    cluster: str = "",
    namespace: str = "",
    health: Strings = [],  # noqa: B006
    sync: Strings = [],  # noqa: B006
    selector: str = "",
    search: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
    view: Layout = "list",
) -> Response:
    wanted = summaries.Filters(
        project=tuple(p for p in project if p),
        cluster=cluster,
        namespace=namespace,
        health=tuple(h for h in health if h),
        sync=tuple(s for s in sync if s),
        selector=summaries.parse_selector(selector),
        search=search.strip(),
    )
    found = views.listing(await visible_summaries(who), wanted, page)
    context: dict[str, Any] = {
        "listing": found,
        "filters": wanted,
        "selector": selector,
        "health_values": views.HEALTH,
        "sync_values": views.SYNC,
        "prev_url": _query(request, page=found.page - 1) if found.page > 1 else "",
        "next_url": _query(request, page=found.page + 1) if found.page < found.pages else "",
        "table_url": _query(request, page=found.page),
        "rows": [_row(who, s) for s in found.items],
        "view": view,
        "item_template": _ITEM[view],
        "list_url": _query(request, view="list"),
        "grid_url": _query(request, view="grid"),
    }
    if web.is_htmx(request) and request.headers.get("HX-Target") == "apps":
        return web.render("_apps_table.html", **context)
    return web.page(request, who, "apps.html", **context)


def _row(who: Viewer, s: Summary) -> dict[str, Any]:
    obj = summaries.app_object(s)
    return {"app": s, "may_sync": who.may(Resource.APPLICATIONS, Action.SYNC, obj)}


@router.get("/ui/stream/applications")
async def stream(who: Who, view: Layout = "list") -> Response:
    services = who.caller.services

    async def on_change(change: Change | None) -> list[str]:
        if change is None:
            return []
        authz = await services.policies.authorizer()
        obj = summaries.app_object(change.summary)
        if not authz.allowed(who.caller.principal, Resource.APPLICATIONS, Action.GET, obj):
            return []
        name = str(change.summary["name"])
        if change.type == "DELETED":
            return [streams.frame("gone", f"app-{name}")]
        row = web.templates.get_template(_ITEM[view]).render(row=_row(who, change.summary))
        frames = [streams.frame("swap", row)]
        if change.type == "ADDED":
            frames.append(streams.frame("changed", name))
        return frames

    async def frames() -> AsyncIterator[str]:
        async for text in streams.follow(services, on_change):
            yield text

    return streams.response(frames())
