"""The HTTP endpoints of authentication, as one APIRouter the API server mounts.

    POST   /api/v1/session           local login: {username, password} -> cookie + {username,
                                     groups, csrfToken}
    DELETE /api/v1/session           logout (CSRF token required with a cookie)
    GET    /api/v1/session/userinfo  who am I: {loggedIn, username, groups, kind, csrfToken?}
    GET    /auth/oidc/login          redirect to the identity provider (PKCE, state, nonce)
    GET    /auth/oidc/callback       back from the provider: session cookie, redirect onwards

The login body is parsed by hand rather than by a pydantic model, because FastAPI's validation
errors echo the offending input, and that input may be a password.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from tether.auth import problems
from tether.auth.authenticator import Authentication, Authenticator
from tether.auth.errors import BadRequest, OIDCFailed
from tether.auth.sessions import Session

BINDING_COOKIE = "tether_oidc"
BINDING_PATH = "/auth/oidc"
_NO_STORE = {"Cache-Control": "no-store"}


def install(app: FastAPI, authenticator: Authenticator) -> None:
    """Mount the routes and answer AuthError with problem JSON everywhere in `app`."""
    problems.register(app)
    app.include_router(router(authenticator))


def router(authn: Authenticator) -> APIRouter:
    routes = APIRouter(tags=["authentication"])
    cookies = _Cookies(authn)

    @routes.post("/api/v1/session")
    async def create_session(request: Request) -> Response:
        username, password = await _credentials(request)
        address = request.client.host if request.client else "unknown"
        session_id, session = await authn.login(username, password, address)
        authn.logout(request.cookies.get(authn.settings.cookie_name))  # always a fresh id
        reply = JSONResponse(_session_body(session), headers=_NO_STORE)
        cookies.set_session(reply, session_id)
        return reply

    @routes.delete("/api/v1/session", status_code=204)
    async def delete_session(
        request: Request, _: Authentication = Depends(authn.require_csrf)
    ) -> Response:
        authn.logout(request.cookies.get(authn.settings.cookie_name))
        reply = Response(status_code=204)
        cookies.clear_session(reply)
        return reply

    @routes.get("/api/v1/session/userinfo")
    async def userinfo(auth: Authentication = Depends(authn.authenticate)) -> Response:
        body: dict[str, Any] = {
            "loggedIn": auth.principal.authenticated,
            "username": auth.principal.name if auth.principal.authenticated else "",
            "groups": list(auth.principal.groups),
            "kind": auth.principal.kind.value,
        }
        if auth.session is not None:
            body["csrfToken"] = auth.session.csrf_token  # a reloaded UI page needs it again
        return JSONResponse(body, headers=_NO_STORE)

    @routes.get("/auth/oidc/login")
    async def oidc_login(return_to: str = "/") -> Response:
        started = await authn.oidc.begin(safe_return_path(return_to))
        reply = RedirectResponse(started.url, status_code=302, headers=_NO_STORE)
        cookies.set_binding(reply, started.binding)
        return reply

    @routes.get("/auth/oidc/callback")
    async def oidc_callback(
        request: Request, state: str = "", code: str = "", error: str = ""
    ) -> Response:
        if error:
            raise OIDCFailed(f"the identity provider refused the login ({error[:64]})")
        if not state or not code:
            raise OIDCFailed("the callback lacks `state` or `code`; start the login again")
        binding = request.cookies.get(BINDING_COOKIE, "")
        session_id, _, return_to = await authn.login_oidc(state, code, binding)
        reply = RedirectResponse(return_to, status_code=303, headers=_NO_STORE)
        cookies.set_session(reply, session_id)
        reply.delete_cookie(BINDING_COOKIE, path=BINDING_PATH)
        return reply

    return routes


class _Cookies:
    def __init__(self, authn: Authenticator) -> None:
        self._settings = authn.settings

    def set_session(self, reply: Response, session_id: str) -> None:
        reply.set_cookie(
            self._settings.cookie_name,
            session_id,
            max_age=int(self._settings.session_max_age),
            path="/",
            secure=self._settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )

    def clear_session(self, reply: Response) -> None:
        reply.delete_cookie(
            self._settings.cookie_name,
            path="/",
            secure=self._settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )

    def set_binding(self, reply: Response, binding: str) -> None:
        # Lax, not Strict: the provider's redirect back is a top-level cross-site navigation.
        flow_ttl = self._settings.oidc.flow_ttl if self._settings.oidc else 600
        reply.set_cookie(
            BINDING_COOKIE,
            binding,
            max_age=int(flow_ttl),
            path=BINDING_PATH,
            secure=self._settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )


async def _credentials(request: Request) -> tuple[str, str]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object with `username` and `password`")
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username.strip():
        raise BadRequest("`username` and `password` must be non-empty strings")
    return username.strip(), password


def _session_body(session: Session) -> dict[str, Any]:
    return {
        "username": session.username,
        "groups": list(session.groups),
        "csrfToken": session.csrf_token,
    }


def safe_return_path(path: str) -> str:
    """Only a path on this site: never `//evil.example` or `https://...` (no open redirect)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
