"""Authentication errors as RFC 7807 problem documents (`application/problem+json`).

The API server registers `handle` for AuthError (`install` does it, with the router), so a
failure raised anywhere (a dependency, a route) is answered the same way.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tether.auth.errors import AuthError

MEDIA_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, type_: str, instance: str) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def response(error: AuthError, instance: str) -> JSONResponse:
    reply = problem(error.status, error.title, error.detail, error.problem.value, instance)
    if error.retry_after is not None:
        reply.headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        reply.headers["WWW-Authenticate"] = 'Bearer realm="tether"'
    return reply


async def handle(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    return response(exc, request.url.path)


def register(app: FastAPI) -> None:
    app.add_exception_handler(AuthError, handle)
