"""Authentication settings: one frozen value the API server builds once and hands to everything.

Defaults follow Argo CD where it has one (5 failed logins in 5 minutes lock an account; admin is
bootstrapped with a random password in a Secret) and are otherwise conservative: cookies are
`Secure` unless a deployment serves plain HTTP on loopback and says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

DEFAULT_NAMESPACE = "tether"


def default_state_db() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "tether" / "state.db"


class TokenAlgorithm(StrEnum):
    """Signature algorithms API tokens may use; one is configured, every other is refused."""

    EDDSA = "EdDSA"  # Ed25519: small keys, fast, no nonce to get wrong
    ES256 = "ES256"  # P-256, for verifiers that do not speak EdDSA


@dataclass(frozen=True, kw_only=True)
class LockoutPolicy:
    """Failed-login throttling: `max_failures` in `window` seconds lock for `base_lockout`,
    doubling with each further lockout up to `max_lockout`."""

    max_failures: int = 5  # per user name (existing or not)
    ip_max_failures: int = 20  # per source address: many users may share one NAT
    window: float = 300.0
    base_lockout: float = 300.0
    max_lockout: float = 24 * 3600.0
    forget_after: float = 24 * 3600.0  # a key quiet this long starts again from base_lockout


@dataclass(frozen=True, kw_only=True)
class OIDCSettings:
    issuer: str  # e.g. http://127.0.0.1:5556/dex; must equal the provider's `issuer` exactly
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str  # https://tether.example.com/auth/oidc/callback
    scopes: tuple[str, ...] = ("openid", "profile", "email", "groups")
    username_claim: str = "email"  # falls back to `sub` when the claim is absent
    groups_claim: str = "groups"
    flow_ttl: float = 600.0  # how long a started login may take
    http_timeout: float = 10.0


@dataclass(frozen=True, kw_only=True)
class AuthSettings:
    namespace: str = DEFAULT_NAMESPACE  # where tether-users, tether-jwt and Projects live
    state_db: Path = field(default_factory=default_state_db)
    cookie_name: str = "tether_session"
    cookie_secure: bool = True
    session_max_age: float = 24 * 3600.0
    session_idle_timeout: float = 2 * 3600.0
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    token_issuer: str = "tether"
    token_audience: str = "tether"
    token_algorithm: TokenAlgorithm = TokenAlgorithm.EDDSA
    clock_leeway: float = 30.0  # tolerated clock skew for `iat`/`exp`
    user_cache_seconds: float = 5.0  # how stale a session's view of its local account may be
    oidc: OIDCSettings | None = None
