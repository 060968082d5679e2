"""The Authenticator: from an HTTP request to a Principal, plus logging in and out.

Order of precedence: an `Authorization: Bearer` API token, else the session cookie, else
ANONYMOUS. A bearer token that does not verify is an error (401), never a silent fall back to
anonymous; a stale session cookie is simply no session (the UI then shows its login page).
The result is cached on the request, so the principal dependency and the CSRF check share it.

A session of a local account is re-checked against `tether-users` (cached a few seconds): a
deleted or disabled account, or a password changed after the session began, ends it, even when
the change was made by another replica or by `tether account` on an operator's machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import structlog
from starlette.requests import Request

from tether.auth import csrf, oidc, passwords, tokens
from tether.auth.errors import InvalidToken, LoginFailed, LoginLocked, NotFound
from tether.auth.keys import SigningKeys
from tether.auth.lockout import LoginThrottle
from tether.auth.projecttokens import TokenUseCases
from tether.auth.sessions import Origin, Session, SessionStore
from tether.auth.settings import AuthSettings
from tether.auth.state import StateDB
from tether.auth.users import LocalUser, UserStore
from tether.cluster.client import KubeClient
from tether.model.principals import ANONYMOUS, Principal, PrincipalKind

log = structlog.get_logger("tether.auth")
Clock = Callable[[], float]
_STATE_KEY = "tether_authentication"
PRUNE_INTERVAL = 600.0


class Method(StrEnum):
    TOKEN = "token"
    SESSION = "session"
    NONE = "none"


@dataclass(frozen=True)
class Authentication:
    principal: Principal
    method: Method
    session: Session | None = None


NOBODY = Authentication(ANONYMOUS, Method.NONE)


class Authenticator:
    def __init__(
        self, settings: AuthSettings, kube: KubeClient, *, clock: Clock = time.time
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.db = StateDB(settings.state_db)
        self.users = UserStore(kube, settings.namespace, clock)
        self.throttle = LoginThrottle(self.db, settings.lockout, clock)
        self.sessions = SessionStore(
            self.db,
            max_age=settings.session_max_age,
            idle_timeout=settings.session_idle_timeout,
            clock=clock,
        )
        self.keys = SigningKeys(kube, settings.namespace, settings.token_algorithm)
        self.registry = tokens.TokenRegistry(self.db, clock)
        self.tokens = TokenUseCases(kube, self.keys, self.registry, settings, clock)
        flows = oidc.FlowStore(self.db, clock)
        self._oidc = oidc.OIDCClient(settings.oidc, flows, clock) if settings.oidc else None
        self._users_cache: tuple[float, dict[str, LocalUser]] | None = None
        self._pruned_at = 0.0

    def close(self) -> None:
        self.db.close()

    @property
    def oidc(self) -> oidc.OIDCClient:
        if self._oidc is None:
            raise NotFound("single sign-on is not configured")
        return self._oidc

    # ---- per request -----------------------------------------------------------------------

    async def principal(self, request: Request) -> Principal:
        """FastAPI dependency: who is asking (ANONYMOUS if nobody logged in)."""
        return (await self.authenticate(request)).principal

    async def require_csrf(self, request: Request) -> Authentication:
        """FastAPI dependency for state-changing routes: cookie-borne requests need the token."""
        authn = await self.authenticate(request)
        if authn.session is not None:
            await csrf.check(request, authn.session)
        return authn

    async def authenticate(self, request: Request) -> Authentication:
        cached = getattr(request.state, _STATE_KEY, None)
        if isinstance(cached, Authentication):
            return cached
        authn = await self._authenticate(request)
        setattr(request.state, _STATE_KEY, authn)
        return authn

    async def _authenticate(self, request: Request) -> Authentication:
        header = request.headers.get("authorization")
        if header is not None:  # a credential that does not verify never falls back to the cookie
            header = header.strip()
            scheme, _, credentials = header.partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                raise InvalidToken("send `Authorization: Bearer <API token>`, or no header")
            principal = await tokens.verify(
                credentials.strip(), self.keys, self.registry, self.settings, now=self.clock()
            )
            return Authentication(principal, Method.TOKEN)
        session_id = request.cookies.get(self.settings.cookie_name)
        session = await self.session(session_id) if session_id else None
        return Authentication(session.principal, Method.SESSION, session) if session else NOBODY

    async def session(self, session_id: str) -> Session | None:
        session = self.sessions.lookup(session_id)
        if session is None or session.origin is not Origin.LOCAL:
            return session
        user = (await self._cached_users()).get(session.username)
        if user is None:  # maybe created after the cache was filled: ask again before ending it
            user = (await self._cached_users(fresh=True)).get(session.username)
        if user is None or user.disabled or user.password_mtime > session.created:
            self.sessions.delete(session_id)
            return None
        return session

    async def _cached_users(self, fresh: bool = False) -> dict[str, LocalUser]:
        now = self.clock()
        if (
            not fresh
            and self._users_cache
            and now - self._users_cache[0] < self.settings.user_cache_seconds
        ):
            return self._users_cache[1]
        users = {u.name: u for u in await self.users.list()}
        self._users_cache = (now, users)
        return users

    # ---- logging in and out ----------------------------------------------------------------

    async def login(self, username: str, password: str, address: str) -> tuple[str, Session]:
        """Check a local account's password; a new session (id, session) on success."""
        self.prune()
        wait = self.throttle.retry_after(username, address)
        if wait:
            log.info("login refused: locked", user=username, address=address, retry_after=wait)
            raise LoginLocked(f"too many failed logins; try again in {wait} s", retry_after=wait)
        user = await self.users.get(username)
        if not await asyncio.to_thread(_password_matches, user, password):
            self.throttle.failed(username, address)
            log.info("login failed", user=username, address=address)
            raise LoginFailed("invalid username or password")
        assert user is not None
        self.throttle.succeeded(username)
        await self._upgrade_hash(user, password)
        log.info("login succeeded", user=username, address=address)
        principal = Principal(user.name, PrincipalKind.USER, user.groups)
        return self.sessions.create(principal, Origin.LOCAL)

    async def login_oidc(self, state: str, code: str, binding: str) -> tuple[str, Session, str]:
        """Finish a single sign-on: (session id, session, where the user wanted to go)."""
        self.prune()
        principal, return_to = await self.oidc.complete(state, code, binding)
        session_id, session = self.sessions.create(principal, Origin.OIDC)
        return session_id, session, return_to

    def logout(self, session_id: str | None) -> None:
        if session_id:
            self.sessions.delete(session_id)

    def prune(self, *, force: bool = False) -> None:
        """Drop dead rows from the state db; piggybacks on logins, at most every 10 minutes."""
        if not force and self.clock() - self._pruned_at < PRUNE_INTERVAL:
            return
        self._pruned_at = self.clock()
        self.sessions.prune()
        self.throttle.prune()
        self.registry.prune()

    async def ensure_admin(self) -> str | None:
        return await self.users.ensure_admin()

    async def _upgrade_hash(self, user: LocalUser, password: str) -> None:
        if not passwords.needs_rehash(user.password_hash):
            return
        try:
            phc = await asyncio.to_thread(passwords.hash_password, password)
            await self.users.set_hash(user.name, phc)
        except Exception as exc:  # an upgrade is a nicety; the login itself has succeeded
            log.warning("password hash upgrade failed", user=user.name, error=type(exc).__name__)


def _password_matches(user: LocalUser | None, password: str) -> bool:
    """Constant work whether or not the user exists or is disabled."""
    if user is None:
        return passwords.verify_dummy(password)
    matches = passwords.verify(user.password_hash, password)
    return matches and not user.disabled
