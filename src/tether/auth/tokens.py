"""API tokens: JWTs scoped to one project role, as Argo CD's project-role tokens are.

Claims: `sub` = `proj:<project>:<role>`, `jti` (the token's id, used to revoke it), `iat`,
optionally `exp`, and fixed `iss` and `aud`. The header names the signing key (`kid`) and the
one configured algorithm.

Verification checks everything, every time: the header's algorithm must be the configured one
(so `none`, HS256-with-a-public-key and friends never reach a verifier), the kid must name one
of our keys, then signature, `iss`, `aud`, `exp` when present, `iat` not in the future beyond the
leeway, and finally the `jti` against the revocation list in the state db. Why a token was
refused is logged; the client only learns that it was.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import structlog
from sqlalchemy import delete, insert, select, update

from tether.auth.errors import BadRequest, InvalidToken
from tether.auth.keys import SigningKeys
from tether.auth.settings import AuthSettings
from tether.auth.state import StateDB, api_tokens
from tether.model.principals import Principal, PrincipalKind

log = structlog.get_logger("tether.auth.tokens")
Clock = Callable[[], float]
_SUBJECT = re.compile(r"^proj:([a-z0-9]([-a-z0-9.]*[a-z0-9])?):([A-Za-z0-9][-A-Za-z0-9_.]*)$")
REQUIRED_CLAIMS = ("sub", "jti", "iat", "iss", "aud")


def subject(project: str, role: str) -> str:
    value = f"proj:{project}:{role}"
    if not _SUBJECT.match(value):
        raise BadRequest(f"{project!r}/{role!r} is not a valid project and role name")
    return value


def parse_subject(value: str) -> tuple[str, str] | None:
    match = _SUBJECT.match(value)
    return (match.group(1), match.group(3)) if match else None


@dataclass(frozen=True)
class IssuedToken:
    token: str = field(repr=False)
    jti: str
    subject: str
    issued_at: int
    expires_at: int | None


@dataclass(frozen=True)
class TokenRecord:
    jti: str
    subject: str
    issued_at: int | None
    expires_at: int | None
    revoked_at: float | None


class TokenRegistry:
    """What was issued and what was revoked, in the state db (independent of Project objects)."""

    def __init__(self, db: StateDB, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def record(self, issued: IssuedToken) -> None:
        row = {
            "jti": issued.jti,
            "subject": issued.subject,
            "issued_at": issued.issued_at,
            "expires_at": issued.expires_at,
        }
        with self._db.write() as conn:
            conn.execute(insert(api_tokens).values(row))

    def get(self, jti: str) -> TokenRecord | None:
        with self._db.read() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.jti == jti)).first()
        return TokenRecord(**row._mapping) if row else None

    def revoke(self, jti: str) -> TokenRecord:
        """Revoke `jti`, issued here or not (a token issued elsewhere can be revoked too)."""
        now = self._clock()
        with self._db.write() as conn:
            found = conn.execute(select(api_tokens.c.jti).where(api_tokens.c.jti == jti)).first()
            if found is None:
                values = {"jti": jti, "subject": "", "revoked_at": now}
                conn.execute(insert(api_tokens).values(values))
            else:
                conn.execute(
                    update(api_tokens).where(api_tokens.c.jti == jti).values(revoked_at=now)
                )
        record = self.get(jti)
        assert record is not None
        return record

    def prune(self) -> int:
        """Forget tokens past their expiry: `exp` refuses them without our help."""
        horizon = self._clock() - 24 * 3600  # well past any clock leeway
        with self._db.write() as conn:
            expired = api_tokens.c.expires_at.is_not(None) & (api_tokens.c.expires_at < horizon)
            return conn.execute(delete(api_tokens).where(expired)).rowcount

    def is_revoked(self, jti: str) -> bool:
        record = self.get(jti)
        return record is not None and record.revoked_at is not None


async def issue(
    keys: SigningKeys,
    settings: AuthSettings,
    sub: str,
    *,
    now: float,
    expires_in: float | None = None,
) -> IssuedToken:
    key = await keys.active()
    issued_at = math.floor(now)
    expires_at = issued_at + math.ceil(expires_in) if expires_in else None
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": sub,
        "jti": str(uuid.uuid4()),
        "iat": issued_at,
    }
    if expires_at is not None:
        claims["exp"] = expires_at
    token = jwt.encode(
        claims, key.private, algorithm=settings.token_algorithm.value, headers={"kid": key.kid}
    )
    return IssuedToken(token, claims["jti"], sub, issued_at, expires_at)


async def verify(
    token: str,
    keys: SigningKeys,
    registry: TokenRegistry,
    settings: AuthSettings,
    *,
    now: float,
) -> Principal:
    try:
        claims = await _decode(token, keys, settings, now)
    except (jwt.PyJWTError, ValueError) as exc:
        raise _refused(type(exc).__name__, str(exc)) from None
    if parse_subject(claims["sub"]) is None:
        raise _refused("bad-subject", "sub is not proj:<project>:<role>")
    if registry.is_revoked(claims["jti"]):
        raise _refused("revoked", f"token {claims['jti']} is revoked")
    return Principal(
        claims["sub"], PrincipalKind.TOKEN, token_id=claims["jti"], project_role=claims["sub"]
    )


async def _decode(token: str, keys: SigningKeys, settings: AuthSettings, now: float) -> Any:
    header = jwt.get_unverified_header(token)
    if header.get("alg") != settings.token_algorithm.value:
        raise ValueError(f"algorithm {header.get('alg')!r} is not accepted")
    kid = header.get("kid")
    key = await keys.find(kid) if isinstance(kid, str) else None
    if key is None or not key.suits(settings.token_algorithm):
        raise ValueError(f"unknown signing key {kid!r}")
    claims = jwt.decode(
        token,
        key.public,
        algorithms=[settings.token_algorithm.value],
        audience=settings.token_audience,
        issuer=settings.token_issuer,
        leeway=settings.clock_leeway,
        options={"require": list(REQUIRED_CLAIMS), "verify_iat": True, "verify_exp": True},
    )
    if claims["iat"] > now + settings.clock_leeway:  # pyjwt checks too; against its own clock
        raise ValueError("issued in the future")
    if "exp" in claims and claims["exp"] <= now - settings.clock_leeway:
        raise ValueError("expired")
    return claims


def _refused(reason: str, why: str) -> InvalidToken:
    log.info("api token refused", reason=reason, why=why)
    return InvalidToken("the token is invalid, expired or revoked")
