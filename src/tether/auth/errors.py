"""Authentication failures, each carrying the HTTP status and problem type it is answered with.

A failure's `detail` is shown to the client as is, so it never holds a secret and never says
whether a user exists; the reason a token or a login was refused is logged, not returned.
"""

from __future__ import annotations

from enum import StrEnum


class ProblemType(StrEnum):
    """RFC 7807 `type` URIs; stable, so clients can branch on them."""

    LOGIN_FAILED = "https://tether.dev/problems/login-failed"
    LOGIN_LOCKED = "https://tether.dev/problems/login-locked"
    UNAUTHENTICATED = "https://tether.dev/problems/unauthenticated"
    INVALID_TOKEN = "https://tether.dev/problems/invalid-token"
    CSRF = "https://tether.dev/problems/csrf-token-invalid"
    BAD_REQUEST = "https://tether.dev/problems/bad-request"
    NOT_FOUND = "https://tether.dev/problems/not-found"
    CONFLICT = "https://tether.dev/problems/conflict"
    OIDC_FAILED = "https://tether.dev/problems/oidc-login-failed"
    OIDC_UNAVAILABLE = "https://tether.dev/problems/oidc-unavailable"


class AuthError(Exception):
    status = 401
    title = "Unauthorized"
    problem = ProblemType.UNAUTHENTICATED

    def __init__(self, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class LoginFailed(AuthError):
    """Wrong user name or password, or a disabled account: deliberately one message for all."""

    title = "Login failed"
    problem = ProblemType.LOGIN_FAILED


class LoginLocked(AuthError):
    status = 429
    title = "Too many failed logins"
    problem = ProblemType.LOGIN_LOCKED


class Unauthenticated(AuthError):
    title = "Authentication required"


class InvalidToken(AuthError):
    title = "Invalid token"
    problem = ProblemType.INVALID_TOKEN


class CsrfRejected(AuthError):
    status = 403
    title = "CSRF token missing or invalid"
    problem = ProblemType.CSRF


class BadRequest(AuthError):
    status = 400
    title = "Bad request"
    problem = ProblemType.BAD_REQUEST


class NotFound(AuthError):
    status = 404
    title = "Not found"
    problem = ProblemType.NOT_FOUND


class Conflict(AuthError):
    status = 409
    title = "Conflict"
    problem = ProblemType.CONFLICT


class OIDCFailed(AuthError):
    """The login round trip did not prove who the user is (bad state, code, token or claims)."""

    status = 400
    title = "Single sign-on failed"
    problem = ProblemType.OIDC_FAILED


class OIDCUnavailable(AuthError):
    status = 502
    title = "Identity provider unavailable"
    problem = ProblemType.OIDC_UNAVAILABLE
