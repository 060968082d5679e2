"""The Authenticator the API server uses: tether.auth's, with every login and logout audited.

tether.auth establishes identity and stays free of the audit trail; the entry points record
user actions. Logins happen inside auth's own routes, so the API server hands those routes this
subclass, whose login, single sign-on and logout record one entry each (success or failure,
with the source address) and otherwise behave exactly as the base class. The single sign-on
callback and logout are not given the address, so `ClientAddress` keeps it for them.
"""

from __future__ import annotations

import asyncio
import contextvars

from starlette.types import ASGIApp, Receive, Scope, Send

from tether.audit.entries import Action, Actor, Entry, Result
from tether.audit.store import AuditLog
from tether.auth.authenticator import Authenticator
from tether.auth.errors import AuthError
from tether.auth.sessions import Session
from tether.model.principals import PrincipalKind

# The address of the request being served: auth's single sign-on callback does not pass it on.
CLIENT_ADDRESS: contextvars.ContextVar[str] = contextvars.ContextVar("client_address", default="")


class ClientAddress:
    """ASGI middleware: remember each request's client address for the audit entries."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        token = CLIENT_ADDRESS.set(client[0] if client else "")
        try:
            await self.app(scope, receive, send)
        finally:
            CLIENT_ADDRESS.reset(token)


class AuditingAuthenticator(Authenticator):
    audit: AuditLog | None = None

    async def _record(self, entry: Entry) -> None:
        if self.audit is not None:
            await asyncio.to_thread(self.audit.record, entry)

    async def login(self, username: str, password: str, address: str) -> tuple[str, Session]:
        try:
            session_id, session = await super().login(username, password, address)
        except AuthError as exc:
            await self._record(_failed(username, address, "local", exc.detail))
            raise
        await self._record(_succeeded(session, address, "local"))
        return session_id, session

    async def login_oidc(self, state: str, code: str, binding: str) -> tuple[str, Session, str]:
        try:
            session_id, session, return_to = await super().login_oidc(state, code, binding)
        except AuthError as exc:
            await self._record(_failed("", CLIENT_ADDRESS.get(), "oidc", exc.detail))
            raise
        await self._record(_succeeded(session, CLIENT_ADDRESS.get(), "oidc"))
        return session_id, session, return_to

    def logout(self, session_id: str | None) -> None:
        session = self.sessions.lookup(session_id) if session_id else None
        super().logout(session_id)
        if session is not None and self.audit is not None:
            self.audit.record_later(
                Entry(
                    action=Action.LOGOUT,
                    actor=Actor.of(session.principal),
                    message="logout",
                    source_ip=CLIENT_ADDRESS.get(),
                )
            )


def _succeeded(session: Session, address: str, method: str) -> Entry:
    return Entry(
        action=Action.LOGIN,
        actor=Actor.of(session.principal),
        parameters={"method": method},
        source_ip=address,
    )


def _failed(username: str, address: str, method: str, detail: str) -> Entry:
    return Entry(
        action=Action.LOGIN_FAILED,
        actor=Actor(name=username or "unknown", kind=PrincipalKind.USER),
        result=Result.FAILED,
        parameters={"method": method},
        message=detail,
        source_ip=address,
    )
