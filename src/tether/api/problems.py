"""Every error the API answers is an RFC 7807 problem document (`application/problem+json`).

Routes raise `Problem` (or a use-case, cluster or auth error, translated here); FastAPI's own
answers (validation, unknown path, wrong method) are turned into the same shape. A problem never
carries a stack trace, nor the input that failed validation (it may be a password): an
unexpected error is logged here and answered with a bare 500.
"""

from __future__ import annotations

import http
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import compile_path

from tether.auth import problems as auth_problems
from tether.cluster import errors as api_errors
from tether.reconcile.targets import TargetError
from tether.service.apps import Refused, UseCaseError
from tether.service.operations import OperationInProgress

log = structlog.get_logger(__name__)
MEDIA_TYPE = auth_problems.MEDIA_TYPE
BASE = "https://tether.dev/problems/"


class Problem(Exception):
    def __init__(self, status: int, detail: str, kind: str = "", title: str = "") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = BASE + (kind or _slug(status))
        self.title = title or http.HTTPStatus(status).phrase


def _slug(status: int) -> str:
    return http.HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")


def not_found(what: str) -> Problem:
    """The one answer for a missing object and for one the caller may not see."""
    return Problem(404, f"{what} not found", "not-found")


def forbidden(detail: str) -> Problem:
    return Problem(403, detail, "permission-denied", "Permission denied")


def respond(status: int, title: str, detail: str, type_: str, instance: str) -> JSONResponse:
    return auth_problems.problem(status, title, detail, type_, instance)


def _of(exc: Problem, request: Request) -> JSONResponse:
    return respond(exc.status, exc.title, exc.detail, exc.type, request.url.path)


def translate(exc: Exception) -> Problem | None:
    """The problem a known error from the layers below stands for (None: unexpected)."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, OperationInProgress):
        return Problem(409, str(exc), "operation-in-progress")
    if isinstance(exc, Refused):
        return Problem(422, str(exc), "unprocessable")
    if isinstance(exc, UseCaseError):
        return Problem(400, str(exc), "bad-request")
    if isinstance(exc, TargetError):
        return Problem(422, f"{exc.reason}: {exc.message}", "unprocessable")
    if isinstance(exc, api_errors.UnknownResource):
        return Problem(503, f"{exc}; is tether installed (`tether install`)?", "not-installed")
    if isinstance(exc, api_errors.ApiError):
        return _kube(exc)
    return None


def _untyped(exc: api_errors.ApiError) -> bool:
    """A server-side apply with a field the CRD's schema does not declare: the API server
    answers 500 "failed to create typed patch object ... field not declared in schema" (its
    own quirk, found by schemathesis), though the client's body is at fault."""
    return exc.status == 500 and "failed to create typed patch object" in exc.message


def _kube(exc: api_errors.ApiError) -> Problem:
    """An answer of the Kubernetes API: the user's fault (404, 409, 422) or a gateway error."""
    if isinstance(exc, api_errors.NotFound):
        return Problem(404, exc.message, "not-found")
    if isinstance(exc, api_errors.Conflict):
        return Problem(409, exc.message, "conflict")
    if isinstance(exc, api_errors.Invalid | api_errors.BadRequest) or _untyped(exc):
        return Problem(422, exc.message, "invalid")
    return Problem(502, f"the Kubernetes API answered {exc.status} {exc.reason}", "upstream")


async def _problem(request: Request, exc: Exception) -> Response:
    problem = translate(exc)
    if problem is None:
        log.error("unexpected error", path=request.url.path, error=repr(exc), exc_info=exc)
        problem = Problem(500, "internal error; the server log has the details", "internal")
    return _of(problem, request)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else http.HTTPStatus(exc.status_code).phrase
    reply = respond(
        exc.status_code,
        http.HTTPStatus(exc.status_code).phrase,
        detail,
        BASE + _slug(exc.status_code),
        request.url.path,
    )
    if exc.headers:
        reply.headers.update(exc.headers)
    if exc.status_code == 405:
        reply.headers["Allow"] = _allowed(request)
    return reply


def _allowed(request: Request) -> str:
    """Every method the API documents at this path (Starlette names only one route's). Read
    from the OpenAPI document, which is also what clients check `Allow` against."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if compile_path(template)[0].match(request.url.path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


def _error(error: Any) -> dict[str, Any]:
    # Never `input` or `ctx`: the offending value may be a password or a key.
    return {"loc": [str(p) for p in error.get("loc", ())], "msg": str(error.get("msg", ""))}


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_error(e) for e in exc.errors()]
    summary = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
    body = {
        "type": BASE + "invalid-request",
        "title": "Invalid request",
        "status": 422,
        "detail": summary,
        "instance": request.url.path,
        "errors": errors,
    }
    return JSONResponse(body, status_code=422, media_type=MEDIA_TYPE)


def register(app: FastAPI) -> None:
    """Answer every error in `app` with a problem document."""
    auth_problems.register(app)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    for known in (
        Problem,
        UseCaseError,
        TargetError,
        api_errors.ApiError,
        api_errors.UnknownResource,
        Exception,
    ):
        app.add_exception_handler(known, _problem)
