"""The UI's plumbing: who is looking, how a page is rendered, and what every answer carries.

Every UI route is a `UIRoute`. It turns "nobody is logged in" into a redirect to the login page
(for an HTMX request, an `HX-Redirect` header), any refusal or failure into an error page (for
an HTMX request, a fragment retargeted to the page's `#flash` box), and puts the security headers
on every answer: a strict Content-Security-Policy (scripts only from this origin, no inline
script or style, no framing), `nosniff`, no referrer to other origins, and no caching of pages.

Templates are autoescaped everywhere (`autoescape=True`, not by file extension), so any text
from a cluster, a repository or a user is inert; links go through `links.href`, which lets only
http(s) URLs become clickable.
"""

from __future__ import annotations

import http
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tether.api import access
from tether.api import services as opened
from tether.api.access import Caller
from tether.api.problems import translate
from tether.auth.errors import AuthError
from tether.authz.policies import Action, Resource
from tether.ui import links

log = structlog.get_logger(__name__)
HERE = Path(__file__).parent
STATIC_PATH = "/ui/static"
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["href"] = links.href
templates.filters["short"] = links.short_revision
templates.globals["static"] = STATIC_PATH


class LoginRequired(Exception):
    """Nobody is logged in: the answer is the login page."""


@dataclass(frozen=True)
class Viewer:
    """The logged-in person (or token) looking at a page, with what they may do."""

    caller: Caller
    csrf: str  # the session's CSRF token ("" for a bearer token, which needs none)

    @property
    def name(self) -> str:
        return self.caller.principal.name

    def may(self, resource: Resource, action: Action, obj: str) -> bool:
        return self.caller.may(resource, action, obj)


async def viewer(request: Request) -> Viewer:
    """Dependency: the viewer, or LoginRequired."""
    services = opened.of(request)
    authn = await services.authn.authenticate(request)
    if not authn.principal.authenticated:
        raise LoginRequired
    authz = await services.policies.authorizer()
    who = Caller(authn.principal, authz, access.address(request), services)
    return Viewer(who, authn.session.csrf_token if authn.session else "")


async def changing_viewer(request: Request) -> Viewer:
    """Dependency for state-changing routes: a cookie-borne request must carry the CSRF token
    (htmx sends it as X-CSRF-Token on every request, from the page's hx-headers)."""
    await opened.of(request).authn.require_csrf(request)
    return await viewer(request)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(template).render(**context), status_code=status)


def page(request: Request, who: Viewer | None, template: str, **context: Any) -> HTMLResponse:
    """A whole page: the layout (navigation, the viewer, the CSRF header htmx sends) + body."""
    return render(template, request_path=request.url.path, viewer=who, **context)


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if is_htmx(request):  # a fragment's request: send the whole page to the login form
        current = request.headers.get("HX-Current-URL", "/")
        return Response(status_code=401, headers={"HX-Redirect": f"/login?next={_path(current)}"})
    return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return _quote(parts.path + (f"?{parts.query}" if parts.query else ""))


def _quote(target: str) -> str:
    return quote(target, safe="")


def error_answer(request: Request, exc: Exception) -> Response:
    status, detail = _status(exc)
    if is_htmx(request):
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        reply = render("_error.html", status=status, status_code=status, detail=detail)
        reply.headers.update(headers)
        return reply
    title = http.HTTPStatus(status).phrase
    return render(
        "error.html",
        status=status,
        status_code=status,
        title=title,
        detail=detail,
        viewer=None,
        request_path=request.url.path,
    )


def _status(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, AuthError):
        return exc.status, exc.detail
    if isinstance(exc, RequestValidationError):
        return 400, "the request's parameters are not valid"
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail)
    problem = translate(exc)
    if problem is None:
        log.error("unexpected error in the web UI", error=repr(exc), exc_info=exc)
        return 500, "internal error; the server log has the details"
    return problem.status, problem.detail


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class UIRoute(APIRoute):
    """A route of the web UI: login redirects, error pages and security headers (see above)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                reply = await handler(request)
            except LoginRequired:
                reply = login_redirect(request)
            except Exception as exc:
                reply = error_answer(request, exc)
            for name, value in HEADERS.items():
                reply.headers.setdefault(name, value)
            reply.headers.setdefault("Vary", "HX-Request, Cookie")
            return reply

        return route
