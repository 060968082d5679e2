"""CSRF: a state-changing request riding on a session cookie must prove it came from our UI.

Browsers attach the session cookie to any request to our origin, including ones another site
makes them send; `SameSite=Lax` stops most of those, not all (same-site subdomains, older
browsers). So every POST/PUT/PATCH/DELETE authenticated by the cookie must also carry the
session's CSRF token, in the `X-CSRF-Token` header (the UI's fetch calls) or the `csrf_token`
form field (plain HTML forms). A page on another origin cannot read the token, so cannot send it.
Requests with a bearer token are exempt: a browser never adds an Authorization header by itself.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from tether.auth.errors import CsrfRejected
from tether.auth.sessions import Session

HEADER = "X-CSRF-Token"
FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def check(request: Request, session: Session) -> None:
    if request.method in SAFE_METHODS:
        return
    presented = request.headers.get(HEADER) or await _form_token(request)
    if not presented or not hmac.compare_digest(presented, session.csrf_token):
        raise CsrfRejected(
            f"this request needs the session's CSRF token in the {HEADER} header"
            f" or the {FORM_FIELD} form field"
        )


async def _form_token(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(_FORM_TYPES):
        return ""
    value = (await request.form()).get(FORM_FIELD)  # Starlette caches the parsed form
    return value if isinstance(value, str) else ""
