"""Failed-login throttling, per user name and per source address, persisted in the state db.

`max_failures` failures inside `window` seconds lock the key for `base_lockout` seconds; each
further lockout doubles that, up to `max_lockout`; a key quiet for `forget_after` starts over.
User names are counted whether or not they exist, so a lockout reveals nothing about accounts.

A successful login clears its user name's counter but never its address's: otherwise anyone with
one valid account could reset their address between guesses at other accounts' passwords.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from tether.auth.settings import LockoutPolicy
from tether.auth.state import StateDB, login_failures

Clock = Callable[[], float]


def user_key(username: str) -> str:
    return "user:" + username.strip().casefold()


def address_key(address: str) -> str:
    return "ip:" + address


@dataclass(frozen=True)
class Counter:
    failures: int
    window_start: float
    last_failure: float
    locked_until: float
    lockouts: int


class LoginThrottle:
    def __init__(self, db: StateDB, policy: LockoutPolicy, clock: Clock) -> None:
        self._db = db
        self._policy = policy
        self._clock = clock

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until a login for this user from this address may be tried; 0 if now."""
        now = self._clock()
        keys = [user_key(username), address_key(address)]
        with self._db.read() as conn:
            rows = conn.execute(
                select(login_failures.c.locked_until).where(login_failures.c.key.in_(keys))
            ).all()
        remaining = max((row.locked_until - now for row in rows), default=0.0)
        return math.ceil(remaining) if remaining > 0 else 0

    def failed(self, username: str, address: str) -> None:
        with self._db.write() as conn:
            self._count(conn, user_key(username), self._policy.max_failures)
            self._count(conn, address_key(address), self._policy.ip_max_failures)

    def succeeded(self, username: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.key == user_key(username)))

    def prune(self) -> int:
        """Drop counters that can no longer lock anything or double a lockout."""
        now = self._clock()
        horizon = max(self._policy.window, self._policy.forget_after)
        with self._db.write() as conn:
            result = conn.execute(
                delete(login_failures).where(
                    login_failures.c.locked_until < now,
                    login_failures.c.last_failure < now - horizon,
                )
            )
        return result.rowcount

    def _count(self, conn: Connection, key: str, limit: int) -> None:
        now = self._clock()
        columns = [login_failures.c[name] for name in Counter.__dataclass_fields__]
        row = conn.execute(select(*columns).where(login_failures.c.key == key)).first()
        old = Counter(**row._mapping) if row else None
        new = next_counter(old, now, limit, self._policy)
        values = {"key": key, **new.__dict__}
        if old is None:
            conn.execute(insert(login_failures).values(values))
        else:
            conn.execute(update(login_failures).where(login_failures.c.key == key).values(values))


def next_counter(old: Counter | None, now: float, limit: int, policy: LockoutPolicy) -> Counter:
    """The counter after one more failure at `now` (pure, so the arithmetic is testable)."""
    if old is None or now - old.window_start > policy.window or old.locked_until > now:
        failures, window_start = 0, now
    else:
        failures, window_start = old.failures, old.window_start
    lockouts = 0 if old is None or now - old.last_failure > policy.forget_after else old.lockouts
    locked_until = old.locked_until if old else 0.0
    failures += 1
    if failures >= limit:
        duration = min(policy.base_lockout * 2**lockouts, policy.max_lockout)
        locked_until, lockouts, failures = now + duration, lockouts + 1, 0
    return Counter(failures, window_start, now, locked_until, lockouts)
