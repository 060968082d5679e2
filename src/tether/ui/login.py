"""Logging in and out of the web UI.

The login form posts to the UI (a plain HTML form cannot send the JSON `POST /api/v1/session`
takes) and goes through the same authenticator, so lockouts and the audit trail's `login`
entries are exactly the API's. Login CSRF (another site logging a victim into the attacker's
account) is refused with a double-submit token: the form carries a random value that must match
a cookie only this origin can set. Single sign-on is a link to `/auth/oidc/login`.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tether.api import access
from tether.api import services as opened
from tether.auth.errors import AuthError
from tether.auth.routes import safe_return_path
from tether.ui import web
from tether.ui.web import Viewer

router = APIRouter(route_class=web.UIRoute, include_in_schema=False)
LOGIN_COOKIE = "tether_login"


def _form(request: Request, next_path: str, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    authn = opened.of(request).authn
    reply = web.render(
        "login.html",
        status=status,
        viewer=None,
        request_path="/login",
        next_path=safe_return_path(next_path),
        error=error,
        login_token=token,
        oidc=authn.settings.oidc is not None,
    )
    reply.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=600,
        path="/login",
        secure=authn.settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )
    return reply


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    authn = await opened.of(request).authn.authenticate(request)
    if authn.principal.authenticated:
        return RedirectResponse(safe_return_path(next), status_code=303)
    return _form(request, next)


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    login_token: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, login_token):
        return _form(request, next, "The login form expired; please try again.", 400)
    if not username.strip() or not password:
        return _form(request, next, "Enter your user name and password.", 400)
    authn = opened.of(request).authn
    try:
        session_id, _ = await authn.login(username.strip(), password, access.address(request))
    except AuthError as exc:
        return _form(request, next, exc.detail, exc.status)
    authn.logout(request.cookies.get(authn.settings.cookie_name))  # always a fresh session id
    reply = RedirectResponse(safe_return_path(next), status_code=303)
    reply.set_cookie(
        authn.settings.cookie_name,
        session_id,
        max_age=int(authn.settings.session_max_age),
        path="/",
        secure=authn.settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    reply.delete_cookie(LOGIN_COOKIE, path="/login")
    return reply


@router.post("/logout")
async def logout(request: Request, _: Annotated[Viewer, Depends(web.changing_viewer)]) -> Response:
    authn = opened.of(request).authn
    authn.logout(request.cookies.get(authn.settings.cookie_name))
    reply = RedirectResponse("/login", status_code=303)
    reply.delete_cookie(
        authn.settings.cookie_name,
        path="/",
        secure=authn.settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return reply
