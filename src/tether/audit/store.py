"""The audit trail's storage: one append-only SQLite table, through SQLAlchemy Core.

Append-only twice over: this class has no way to change or remove an entry, and triggers in the
database refuse UPDATE and DELETE (and an INSERT that would replace an existing row) from anyone,
a `sqlite3` shell included. The database runs in WAL mode with a busy timeout, so the controller
and the API server on one host append to the same file while readers keep reading.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import SQLAlchemyError

from tether.audit import redaction
from tether.audit.entries import Actor, Deployment, Entry, Result, format_time, parse_time
from tether.audit.queries import Filter, Page
from tether.model.principals import PrincipalKind

log = structlog.get_logger(__name__)
SCHEMA_VERSION = 1
_TEXT_LIMIT = 4096  # messages and commit messages beyond this are cut: an entry is a record

metadata = sa.MetaData()
entries = sa.Table(
    "audit_entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", sa.Text, nullable=False),  # format_time: UTC, microseconds
    sa.Column("actor_name", sa.Text, nullable=False),
    sa.Column("actor_kind", sa.Text, nullable=False),
    sa.Column("actor_groups", sa.Text, nullable=False),  # JSON list
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("resource", sa.Text, nullable=False),
    sa.Column("object", sa.Text, nullable=False),
    sa.Column("project", sa.Text, nullable=False),
    sa.Column("parameters", sa.Text, nullable=False),  # JSON object, redacted
    sa.Column("result", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("source_ip", sa.Text, nullable=False),
    sa.Column("deployment", sa.Text),  # JSON (entries.Deployment) or NULL
    sa.Column("revision", sa.Text, nullable=False),  # also inside deployment; here to filter on
    sqlite_autoincrement=True,  # ids are never reused, even after the highest row is gone
)
_INDEXES = [
    sa.Index("audit_entries_time", entries.c.time),
    sa.Index("audit_entries_actor", entries.c.actor_name),
    sa.Index("audit_entries_object", entries.c.object),
    sa.Index("audit_entries_project", entries.c.project),
]
_APPEND_ONLY = [
    """CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: no entry can change'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: no entry can go'); END""",
    # INSERT OR REPLACE deletes the old row without firing DELETE triggers (recursive_triggers is
    # off by default): refuse any insert that names an id already taken.
    """CREATE TRIGGER IF NOT EXISTS audit_entries_no_replace BEFORE INSERT ON audit_entries
       WHEN EXISTS (SELECT 1 FROM audit_entries WHERE id = NEW.id)
       BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: ids cannot be reused'); END""",
]


class AuditStoreError(RuntimeError):
    """The audit database cannot be opened or written; the message names the file."""


def default_path() -> Path:
    """$XDG_STATE_HOME/tether/audit.db (~/.local/state/tether/audit.db by default)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "tether" / "audit.db"


def chosen_path(option: str | None) -> Path | None:
    """What an `--audit-db` option means: unset = the default path, '' = no audit trail."""
    if option == "":
        return None
    return Path(option) if option else default_path()


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
    cursor.execute("PRAGMA busy_timeout=5000")  # the other process's write takes milliseconds
    cursor.execute("PRAGMA synchronous=FULL")  # an entry that was recorded survives a crash
    cursor.close()


def _create_schema(engine: Engine, path: Path) -> None:
    with engine.begin() as conn:
        version = conn.exec_driver_sql("PRAGMA user_version").scalar_one()
        if version > SCHEMA_VERSION:
            raise AuditStoreError(f"{path} was written by a newer tether (schema {version})")
        conn.execute(sa.schema.CreateTable(entries, if_not_exists=True))
        for index in _INDEXES:
            conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
        for trigger in _APPEND_ONLY:
            conn.exec_driver_sql(trigger)
        conn.exec_driver_sql(f"PRAGMA user_version={SCHEMA_VERSION}")


def _glob(column: sa.ColumnElement[str], pattern: str) -> sa.ColumnElement[bool]:
    return column.op("GLOB")(pattern)  # SQLite's own: *, ?, [..], case-sensitive


def _conditions(where: Filter) -> list[sa.ColumnElement[bool]]:
    c = entries.c
    found: list[sa.ColumnElement[bool]] = []
    if where.actor:
        found.append(c.actor_name == where.actor)
    if where.action:
        found.append(_glob(c.action, where.action))
    if where.object:
        found.append(_glob(c.object, where.object))
    if where.project:
        found.append(c.project == where.project)
    if where.result is not None:
        found.append(c.result == str(where.result))
    if where.since is not None:
        found.append(c.time >= format_time(where.since))
    if where.until is not None:
        found.append(c.time < format_time(where.until))
    return found


def _stored(entry: Entry, when: dt.datetime) -> Entry:
    """The entry as it is kept: its time, parameters redacted, long texts cut."""
    deployment = entry.deployment
    if deployment is not None:
        deployment = replace(deployment, commit_message=deployment.commit_message[:_TEXT_LIMIT])
    return replace(
        entry,
        time=when,
        parameters=redaction.redact(entry.parameters),
        message=entry.message[:_TEXT_LIMIT],
        deployment=deployment,
    )


def _row(entry: Entry) -> dict[str, Any]:
    assert entry.time is not None
    deployment = entry.deployment
    return {
        "time": format_time(entry.time),
        "actor_name": entry.actor.name,
        "actor_kind": str(entry.actor.kind),
        "actor_groups": json.dumps(list(entry.actor.groups)),
        "action": str(entry.action),
        "resource": entry.resource,
        "object": entry.object,
        "project": entry.project,
        "parameters": json.dumps(dict(entry.parameters), default=str),
        "result": str(entry.result),
        "message": entry.message,
        "source_ip": entry.source_ip,
        "deployment": json.dumps(deployment.to_dict()) if deployment else None,
        "revision": deployment.revision if deployment else "",
    }


def _entry(row: Row[Any]) -> Entry:
    return Entry(
        id=row.id,
        time=parse_time(row.time),
        actor=Actor(
            name=row.actor_name,
            kind=PrincipalKind(row.actor_kind),
            groups=tuple(json.loads(row.actor_groups)),
        ),
        action=row.action,
        resource=row.resource,
        object=row.object,
        project=row.project,
        parameters=json.loads(row.parameters),
        result=Result(row.result),
        message=row.message,
        source_ip=row.source_ip,
        deployment=Deployment.from_dict(json.loads(row.deployment)) if row.deployment else None,
    )


class AuditLog:
    """Append and read audit entries. Open with `AuditLog.open(path)`; close when done."""

    def __init__(
        self, engine: Engine, path: Path, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.engine = engine
        self.path = path
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        # One background writer keeps record_later's entries in order.
        self._writer: ThreadPoolExecutor | None = None

    @classmethod
    def open(cls, path: Path, clock: Callable[[], dt.datetime] | None = None) -> AuditLog:
        """Open (creating the file, its directory and the schema if needed)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(f"sqlite:///{path}")
            sa.event.listen(engine, "connect", _on_connect)
            _create_schema(engine, path)
        except (OSError, SQLAlchemyError) as exc:
            raise AuditStoreError(f"cannot open the audit trail {path}: {exc}") from exc
        return cls(engine, path, clock)

    def close(self) -> None:
        """Finish the background writes, then close the database."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
        self.engine.dispose()

    def record(self, entry: Entry) -> Entry:
        """Append one entry (parameters redacted); returns it with its id and time."""
        return self._insert(_stored(entry, self.clock()))

    def record_later(self, entry: Entry) -> None:
        """Append in the background, in order, timed now: for an event loop that must not wait
        on the disk (the controller). A failure is logged, not raised; close() waits for all."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit")
        self._writer.submit(self._insert_logged, _stored(entry, self.clock()))

    def _insert_logged(self, stored: Entry) -> None:
        try:
            self._insert(stored)
        except Exception as exc:  # a background write has no caller to raise to: say it here
            log.error("audit entry not recorded", action=stored.action, error=str(exc))

    def _insert(self, stored: Entry) -> Entry:
        try:
            with self.engine.begin() as conn:
                inserted = conn.execute(sa.insert(entries).values(_row(stored)))
        except SQLAlchemyError as exc:
            raise AuditStoreError(f"cannot write to the audit trail {self.path}: {exc}") from exc
        key = inserted.inserted_primary_key
        assert key is not None
        return replace(stored, id=int(key[0]))

    def query(self, where: Filter = Filter(), limit: int = 100, before: int | None = None) -> Page:
        """Matching entries, newest first, at most `limit`, older than id `before` if given."""
        statement = sa.select(entries).where(*_conditions(where))
        if before is not None:
            statement = statement.where(entries.c.id < before)
        statement = statement.order_by(entries.c.id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(statement).all()
        found = tuple(_entry(r) for r in rows[:limit])
        more = len(rows) > limit and bool(found)
        return Page(found, found[-1].id if more else None)

    def scan(self, where: Filter = Filter(), batch: int = 500) -> Iterator[Entry]:
        """Every matching entry, oldest first, read in batches (for export)."""
        after = 0
        while True:
            statement = (
                sa.select(entries)
                .where(*_conditions(where), entries.c.id > after)
                .order_by(entries.c.id)
                .limit(batch)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(statement).all()
            yield from (_entry(r) for r in rows)
            if len(rows) < batch:
                return
            after = rows[-1].id

    def export(self, out: TextIO, where: Filter = Filter()) -> int:
        """Write matching entries as JSON lines, oldest first; returns how many."""
        count = 0
        for entry in self.scan(where):
            out.write(json.dumps(entry.to_dict(), sort_keys=True) + "\n")
            count += 1
        return count
