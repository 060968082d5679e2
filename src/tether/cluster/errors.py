"""API errors as exceptions that carry the server's Status: code, reason and message.

Callers branch on the type (NotFound, Conflict, ...) instead of on numbers, and the message is
the API server's own, which is what a user needs to read.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A non-2xx answer from the API server."""

    def __init__(self, status: int, reason: str, message: str, body: dict[str, Any] | None = None):
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    """409: an optimistic-concurrency or server-side-apply field conflict."""


class AlreadyExists(Conflict):
    pass


class Gone(ApiError):
    """410: a watch or list resumed from a resourceVersion that was compacted away."""


class Invalid(ApiError):
    pass


class TooManyRequests(ApiError):
    pass


class ServerError(ApiError):
    pass


class UnknownResource(Exception):
    """Discovery knows no resource for this apiVersion and kind (e.g. a CRD not installed yet)."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f"the server has no resource type {kind} in {api_version}")
        self.api_version = api_version
        self.kind = kind


def from_response(status: int, body: dict[str, Any] | None, text: str) -> ApiError:
    body = body or {}
    reason = str(body.get("reason") or "")
    message = str(body.get("message") or text[:500] or "no message")
    if status == 409 and reason == "AlreadyExists":
        return AlreadyExists(status, reason, message, body)
    cls = {
        400: BadRequest,
        401: Unauthorized,
        403: Forbidden,
        404: NotFound,
        409: Conflict,
        410: Gone,
        422: Invalid,
        429: TooManyRequests,
    }.get(status, ServerError if status >= 500 else ApiError)
    return cls(status, reason or cls.__name__, message, body)
