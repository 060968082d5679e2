"""Server-side browser sessions: the cookie holds only a random id; everything else stays here.

A session id is 256 random bits, shown to the browser once (in Set-Cookie) and stored only as
its SHA-256 digest, so a copy of the state db opens no session. A session ends at its absolute
expiry, after `idle_timeout` without a request, or at logout; each carries its own CSRF token.
`last_seen` is written at most once a minute, so a busy UI does not write on every request.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import delete, insert, select, update

from tether.auth.state import StateDB, digest
from tether.auth.state import sessions as table
from tether.model.principals import Principal, PrincipalKind

Clock = Callable[[], float]
TOUCH_INTERVAL = 60.0


class Origin(StrEnum):
    LOCAL = "local"  # a tether-users account: re-checked against the Secret while in use
    OIDC = "oidc"


@dataclass(frozen=True)
class Session:
    username: str
    groups: tuple[str, ...]
    origin: Origin
    csrf_token: str = field(repr=False)
    created: float
    last_seen: float
    expires: float

    @property
    def principal(self) -> Principal:
        return Principal(self.username, PrincipalKind.USER, self.groups)


class SessionStore:
    def __init__(self, db: StateDB, *, max_age: float, idle_timeout: float, clock: Clock):
        self._db = db
        self._max_age = max_age
        self._idle = idle_timeout
        self._clock = clock

    def create(self, principal: Principal, origin: Origin) -> tuple[str, Session]:
        """A new session for `principal`; returns its id (the only time it exists in clear)."""
        now = self._clock()
        session_id = secrets.token_urlsafe(32)
        session = Session(
            principal.name,
            principal.groups,
            origin,
            secrets.token_urlsafe(32),
            now,
            now,
            now + self._max_age,
        )
        row = {**session.__dict__, "groups": json.dumps(list(session.groups))}
        with self._db.write() as conn:
            conn.execute(insert(table).values(id_hash=digest(session_id), **row))
        return session_id, session

    def lookup(self, session_id: str) -> Session | None:
        """The live session with this id, or None (unknown, expired or idle too long)."""
        now = self._clock()
        key = digest(session_id)
        with self._db.read() as conn:
            row = conn.execute(select(table).where(table.c.id_hash == key)).first()
        if row is None:
            return None
        session = _session(row._mapping)
        if now >= session.expires or now - session.last_seen > self._idle:
            self.delete(session_id)
            return None
        if now - session.last_seen > TOUCH_INTERVAL:
            with self._db.write() as conn:
                conn.execute(update(table).where(table.c.id_hash == key).values(last_seen=now))
        return session

    def delete(self, session_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(table).where(table.c.id_hash == digest(session_id)))

    def delete_user(self, username: str) -> int:
        """End every session of a user (password changed, account disabled or deleted)."""
        with self._db.write() as conn:
            return conn.execute(delete(table).where(table.c.username == username)).rowcount

    def prune(self) -> int:
        now = self._clock()
        with self._db.write() as conn:
            stale = (table.c.expires <= now) | (table.c.last_seen < now - self._idle)
            return conn.execute(delete(table).where(stale)).rowcount


def _session(row: object) -> Session:
    values = dict(row)  # type: ignore[call-overload]
    return Session(
        username=values["username"],
        groups=tuple(json.loads(values["groups"])),
        origin=Origin(values["origin"]),
        csrf_token=values["csrf_token"],
        created=values["created"],
        last_seen=values["last_seen"],
        expires=values["expires"],
    )
