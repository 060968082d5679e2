"""The authentication state database: a small SQLite file that outlives the process.

What must survive a restart lives here: failed-login counters and lockouts (an attacker must not
reset them by crashing the server, cf. Argo CD's CVE-2024-21652), browser sessions, OIDC logins
in flight, and the record of issued and revoked API tokens. SQLAlchemy Core, no ORM: the tables
are few and the queries plain.

Writes open `BEGIN IMMEDIATE` transactions so a read-modify-write (a failure counter) is atomic
even with several server processes on one file; WAL keeps readers from blocking on a writer.
Secrets are never stored in clear: session ids and OIDC state are kept as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
)

metadata = MetaData()

login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String, primary_key=True),  # "user:<name>" or "ip:<address>"
    Column("failures", Integer, nullable=False),
    Column("window_start", Float, nullable=False),
    Column("last_failure", Float, nullable=False),
    Column("locked_until", Float, nullable=False),
    Column("lockouts", Integer, nullable=False),  # how many times locked: the doubling exponent
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String, primary_key=True),
    Column("username", String, nullable=False, index=True),
    Column("groups", String, nullable=False),  # JSON list
    Column("origin", String, nullable=False),  # "local" or "oidc"
    Column("csrf_token", String, nullable=False),
    Column("created", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("expires", Float, nullable=False, index=True),
)

oidc_flows = Table(
    "oidc_flows",
    metadata,
    Column("state_hash", String, primary_key=True),
    Column("binding_hash", String, nullable=False),  # ties the flow to the browser that began it
    Column("nonce", String, nullable=False),
    Column("code_verifier", String, nullable=False),
    Column("return_to", String, nullable=False),
    Column("expires", Float, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("jti", String, primary_key=True),
    Column("subject", String, nullable=False),  # proj:<project>:<role>; "" if only revoked here
    Column("issued_at", Integer, nullable=True),
    Column("expires_at", Integer, nullable=True),
    Column("revoked_at", Float, nullable=True),
)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class StateDB:
    """One SQLite file: `read()` and `write()` hand out connections inside a transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._engine = _engine(path)
        metadata.create_all(self._engine)
        os.chmod(path, 0o600)  # session digests and token records are nobody else's business
        self._immediate = self._engine.execution_options(tether_immediate=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._engine.begin() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._immediate.begin() as conn:
            yield conn

    def close(self) -> None:
        self._engine.dispose()


def _engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: object) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is always DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        # WAL + NORMAL loses nothing when the process dies, only possibly on power loss.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("tether_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
