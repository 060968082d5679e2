"""The API server's FastAPI application: `create_app(settings)`.

The lifespan opens the `Services` (runtime, authenticator, policy loader, audit trail, the
Applications watch), stores them in `app.state.services`, and mounts authentication's own router
(built around the authenticator it just opened). Routes reach the services through
`tether.api.services.of(request)` and the dependencies in `tether.api.access`; so does anything
mounted through `extra_routers` (the web UI), which is how it shares this app.

OpenAPI is served at `/openapi.json` (Swagger UI at `/api/docs`), with error answers documented
as `application/problem+json`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from tether import __version__
from tether.api import authentication, problems, routes
from tether.api.routes.common import PROBLEMS
from tether.api.services import open_services
from tether.api.settings import ServerSettings
from tether.auth import routes as auth_routes

TITLE = "tether"
DESCRIPTION = (
    "GitOps continuous delivery for Kubernetes. Authenticate with `Authorization: Bearer <API "
    "token>` or the session cookie from `POST /api/v1/session` (state-changing requests with "
    "the cookie also send `X-CSRF-Token`). Errors are RFC 7807 problem documents."
)
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/api/v1/session", "/api/v1/session/userinfo"})
_SECURITY = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "session": {"type": "apiKey", "in": "cookie", "name": "tether_session"},
}


def create_app(settings: ServerSettings, extra_routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The API app; `extra_routers` are mounted after the API's own (the web UI's hook), and
    left out of /openapi.json."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings) as services:
            app.state.services = services
            if not getattr(app.state, "auth_mounted", False):
                app.include_router(auth_routes.router(services.authn), responses=PROBLEMS)
                app.state.auth_mounted = True
            yield

    app = FastAPI(
        title=TITLE,
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    problems.register(app)
    app.add_middleware(authentication.ClientAddress)
    for router in routes.routers():
        app.include_router(router)
    for router in extra_routers:  # pages, not API: kept out of the OpenAPI document
        app.include_router(router, include_in_schema=False)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _problems_as_problem_json(schema)
            schema.setdefault("components", {})["securitySchemes"] = _SECURITY
            schema["security"] = [{"bearer": []}, {"session": []}]
            _public(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    return build


def _public(schema: dict[str, Any]) -> None:
    """Probes and the log-in routes answer without credentials: say so in the schema."""
    for path, operations in schema.get("paths", {}).items():
        if path in PUBLIC_PATHS or path.startswith("/auth/"):
            for operation in operations.values():
                operation["security"] = []


def _problems_as_problem_json(schema: dict[str, Any]) -> None:
    """Error answers are `application/problem+json`: say so in the schema."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in (operation.get("responses") or {}).items():
                content = answer.get("content") or {}
                if status[:1] in ("4", "5") and "application/json" in content:
                    content[problems.MEDIA_TYPE] = content.pop("application/json")
