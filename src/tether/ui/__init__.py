"""tether's web UI: server-rendered pages (Jinja2 + htmx), live over Server-Sent Events.

It is mounted on the API server's FastAPI app (`tether server` looks for this package) and
reaches everything through the API's contract: `tether.api.services.of(request)` for the
runtime, authenticator, policies, audit trail and the shared Applications watch, and the API's
own helpers for finding an app the viewer may see and recording what they do. No build step:
htmx is vendored in `static/` (with its licence), templates are plain Jinja2.

    routers()        the pages, panels, actions and streams (see each module)
    static_mounts()  `/ui/static`: htmx, the page script and the stylesheet
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from tether.ui import actions, admin, appdetail, applist, login, web


def routers() -> list[APIRouter]:
    return [login.router, applist.router, appdetail.router, actions.router, admin.router]


def static_mounts() -> list[tuple[str, ASGIApp]]:
    return [(web.STATIC_PATH, StaticFiles(directory=web.HERE / "static"))]
