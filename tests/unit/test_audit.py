"""The audit trail: append-only storage, filters, keyset paging, export, redaction, the
controller's entries, and the `tether audit` command."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs
from typer.testing import CliRunner

from tether.audit import automation, queries, redaction
from tether.audit.entries import Action, Actor, Deployment, DriftCause, Entry, Result
from tether.audit.queries import Filter
from tether.audit.store import AuditLog, AuditStoreError, entries
from tether.cli.main import app as cli
from tether.engine.operation import (
    InitiatedBy,
    OperationPhase,
    OperationRequest,
    OperationState,
    ResourceResult,
    ResultStatus,
    SyncRequest,
)
from tether.model.principals import CONTROLLER, Principal, PrincipalKind
from tether.model.resources import ResourceKey

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
ALICE = Actor.of(Principal("alice", PrincipalKind.USER, ("devs",)))
BOB = Actor.of(Principal("bob", PrincipalKind.USER))


class Clock:
    """Each call is one second after the previous one."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start - dt.timedelta(seconds=1)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def log(tmp_path: Path) -> Any:
    opened = AuditLog.open(tmp_path / "state" / "audit.db", clock=Clock())
    yield opened
    opened.close()


def _sync(actor: Actor, obj: str, result: Result = Result.SUCCEEDED, **kw: Any) -> Entry:
    project = obj.split("/")[0]
    return Entry(
        action=Action.APP_SYNC,
        actor=actor,
        resource="applications",
        object=obj,
        project=project,
        result=result,
        **kw,
    )


# ---- recording and reading back ------------------------------------------------------------


def test_an_entry_reads_back_as_recorded(log: AuditLog) -> None:
    deployment = Deployment(
        revision="main@sha1:" + "a" * 40,
        commit_author="Ada Lovelace <ada@example.com>",
        commit_message="web: v2",
        objects_changed=("Deployment.apps/web/web configured",),
        drift_corrected=True,
        drift=(DriftCause(object="Deployment.apps/web/web", manager="kubectl-edit"),),
    )
    recorded = log.record(
        _sync(ALICE, "team-a/web", parameters={"prune": True}, source_ip="10.0.0.7")
    )
    healed = log.record(
        Entry(action=Action.CONTROLLER_SYNC, actor=Actor.of(CONTROLLER), deployment=deployment)
    )
    assert recorded.id < healed.id
    assert recorded.time == T0  # UTC, microseconds kept
    page = log.query()
    assert page.entries == (healed, recorded)  # newest first, every field as recorded
    assert page.next_before is None


def test_background_writes_keep_their_order_and_close_waits_for_them(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit.db", clock=Clock())
    for i in range(30):
        log.record_later(Entry(action="test.write", actor=ALICE, message=str(i)))
    log.close()
    reopened = AuditLog.open(tmp_path / "audit.db")
    found = list(reopened.scan())
    reopened.close()
    assert [e.message for e in found] == [str(i) for i in range(30)]
    assert found[0].time == T0  # timed when recorded, not when written


def test_a_failed_background_write_is_logged(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_stored: Entry) -> Entry:
        raise AuditStoreError("cannot write to the audit trail: disk full")

    monkeypatch.setattr(log, "_insert", broken)
    with capture_logs() as logs:
        log.record_later(_sync(ALICE, "team-a/web"))
        log.close()
    assert [(e["event"], e["action"]) for e in logs] == [("audit entry not recorded", "app.sync")]


def test_times_are_utc_with_microseconds_on_disk(log: AuditLog) -> None:
    log.record(_sync(ALICE, "team-a/web"))
    with sqlite3.connect(log.path) as db:
        assert db.execute("SELECT time FROM audit_entries").fetchone() == (
            "2026-03-01T12:00:00.123456Z",
        )


# ---- append-only ---------------------------------------------------------------------------


def test_the_log_offers_no_way_to_change_or_remove_entries() -> None:
    assert not [m for m in dir(AuditLog) if m.startswith(("update", "delete", "remove", "purge"))]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET actor_name = 'mallory'",
        "UPDATE audit_entries SET result = 'succeeded' WHERE id = 1",
        "DELETE FROM audit_entries",
        "DELETE FROM audit_entries WHERE id = 1",
        "INSERT OR REPLACE INTO audit_entries SELECT * FROM audit_entries WHERE id = 1",
        "REPLACE INTO audit_entries SELECT * FROM audit_entries WHERE id = 1",
    ],
)
def test_the_database_refuses_changes_from_anyone(log: AuditLog, statement: str) -> None:
    log.record(_sync(ALICE, "team-a/web", Result.DENIED))
    with sqlite3.connect(log.path) as db, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute(statement)
    assert [(e.actor.name, e.result) for e in log.query().entries] == [("alice", Result.DENIED)]


def test_sqlalchemy_updates_are_refused_too(log: AuditLog) -> None:
    log.record(_sync(ALICE, "team-a/web"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), log.engine.begin() as conn:
        conn.execute(sa.update(entries).values(message="nothing happened"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), log.engine.begin() as conn:
        conn.execute(sa.delete(entries))


def test_the_database_is_in_wal_mode(log: AuditLog) -> None:
    with sqlite3.connect(log.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


_WRITER = """
import sys
from pathlib import Path
from tether.audit.entries import Actor, Entry
from tether.audit.store import AuditLog
from tether.model.principals import Principal, PrincipalKind
log = AuditLog.open(Path(sys.argv[1]))
actor = Actor.of(Principal(sys.argv[2], PrincipalKind.SERVICE))
for i in range(40):
    log.record(Entry(action="test.write", actor=actor, message=str(i)))
"""


def test_two_processes_append_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name])
        for name in ("controller", "api-server")
    ]
    assert [w.wait(120) for w in writers] == [0, 0]
    log = AuditLog.open(path)
    found = list(log.scan())
    log.close()
    assert len(found) == 80 and len({e.id for e in found}) == 80
    for name in ("controller", "api-server"):
        assert [e.message for e in found if e.actor.name == name] == [str(i) for i in range(40)]


def test_a_newer_schema_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    AuditLog.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(AuditStoreError, match="newer tether"):
        AuditLog.open(path)


def test_an_unwritable_place_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AuditStoreError, match="cannot open the audit trail"):
        AuditLog.open(blocker / "audit.db")


# ---- filters and paging --------------------------------------------------------------------


@pytest.fixture
def history(log: AuditLog) -> AuditLog:
    """Six entries, one second apart from T0."""
    log.record(_sync(ALICE, "team-a/web"))
    log.record(_sync(BOB, "team-a/api", Result.DENIED))
    log.record(_sync(ALICE, "team-b/web", Result.FAILED))
    log.record(Entry(action=Action.LOGIN, actor=BOB, source_ip="192.0.2.1"))
    log.record(Entry(action=Action.LOGIN_FAILED, actor=BOB, result=Result.FAILED))
    log.record(
        Entry(
            action=Action.APP_ROLLBACK,
            actor=ALICE,
            resource="applications",
            object="team-a/web",
            project="team-a",
        )
    )
    return log


def _seconds(n: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=n)


FILTERS = [
    ("everything", Filter(), [6, 5, 4, 3, 2, 1]),
    ("actor", Filter(actor="alice"), [6, 3, 1]),
    ("action exact", Filter(action="app.sync"), [3, 2, 1]),
    ("action glob", Filter(action="login*"), [5, 4]),
    ("action glob app", Filter(action="app.*"), [6, 3, 2, 1]),
    ("object exact", Filter(object="team-a/web"), [6, 1]),
    ("object glob", Filter(object="team-a/*"), [6, 2, 1]),
    ("object glob name", Filter(object="*/web"), [6, 3, 1]),
    ("project", Filter(project="team-b"), [3]),
    ("result", Filter(result=Result.FAILED), [5, 3]),
    ("denied", Filter(result=Result.DENIED), [2]),
    ("since inclusive", Filter(since=_seconds(4)), [6, 5]),
    ("until exclusive", Filter(until=_seconds(2)), [2, 1]),
    ("window", Filter(since=_seconds(1), until=_seconds(3)), [3, 2]),
    ("combined", Filter(actor="bob", action="login*", result=Result.FAILED), [5]),
    ("nothing", Filter(actor="carol"), []),
    ("globs are case-sensitive", Filter(object="TEAM-A/*"), []),
]


@pytest.mark.parametrize(
    ("where", "ids"), [(f, i) for _, f, i in FILTERS], ids=[n for n, *_ in FILTERS]
)
def test_filters(history: AuditLog, where: Filter, ids: list[int]) -> None:
    assert [e.id for e in history.query(where).entries] == ids


def test_keyset_pages_do_not_shift_when_entries_are_added(log: AuditLog) -> None:
    for i in range(25):
        log.record(_sync(ALICE, f"team-a/app-{i}"))
    first = log.query(limit=10)
    for i in range(5):
        log.record(_sync(BOB, f"team-a/late-{i}"))
    second = log.query(limit=10, before=first.next_before)
    third = log.query(limit=10, before=second.next_before)
    assert [e.id for e in first.entries] == list(range(25, 15, -1))
    assert [e.id for e in second.entries] == list(range(15, 5, -1))
    assert [e.id for e in third.entries] == [5, 4, 3, 2, 1]
    assert third.next_before is None
    assert log.query(limit=5).entries[0].actor.name == "bob"


def test_a_page_that_ends_exactly_says_there_is_no_more(log: AuditLog) -> None:
    for i in range(4):
        log.record(_sync(ALICE, f"team-a/app-{i}"))
    assert log.query(limit=4).next_before is None
    assert log.query(limit=3).next_before == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", T0 - dt.timedelta(seconds=90)),
        ("30m", T0 - dt.timedelta(minutes=30)),
        ("1h", T0 - dt.timedelta(hours=1)),
        ("2d", T0 - dt.timedelta(days=2)),
        ("1w", T0 - dt.timedelta(weeks=1)),
        ("2026-02-01T00:00:00Z", dt.datetime(2026, 2, 1, tzinfo=dt.UTC)),
        ("2026-02-01T01:00:00+01:00", dt.datetime(2026, 2, 1, tzinfo=dt.UTC)),
        ("2026-02-01", dt.datetime(2026, 2, 1, tzinfo=dt.UTC)),
    ],
)
def test_times_relative_and_absolute(text: str, expected: dt.datetime) -> None:
    assert queries.parse_when(text, T0) == expected


def test_a_bad_time_says_how_to_write_one() -> None:
    with pytest.raises(ValueError, match="use 30m, 1h"):
        queries.parse_when("yesterday", T0)


# ---- export --------------------------------------------------------------------------------


def test_export_writes_json_lines_oldest_first(history: AuditLog) -> None:
    out = io.StringIO()
    assert history.export(out, Filter(actor="bob")) == 3
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(d["id"], d["action"]) for d in lines] == [
        (2, "app.sync"),
        (4, "login"),
        (5, "login.failed"),
    ]
    assert lines[1] == {
        "id": 4,
        "time": "2026-03-01T12:00:03.123456Z",
        "actor": {"name": "bob", "kind": "user", "groups": []},
        "action": "login",
        "resource": "",
        "object": "",
        "project": "",
        "parameters": {},
        "result": "succeeded",
        "message": "",
        "sourceIP": "192.0.2.1",
    }


def test_export_reads_in_batches(log: AuditLog) -> None:
    for i in range(1203):
        log.record(Entry(action="test.write", actor=ALICE, message=str(i)))
    assert [e.message for e in log.scan(batch=500)] == [str(i) for i in range(1203)]


# ---- redaction -----------------------------------------------------------------------------

REDACTIONS = [
    ("flat", {"password": "x", "user": "alice"}, {"user": "alice"}),
    (
        "words in names",
        {"sshPrivateKey": "x", "api_key": "x", "X-Api-Key": "x", "bearerToken": "x", "app": "web"},
        {"app": "web"},
    ),
    ("plurals", {"secrets": ["a"], "tokens": 2, "keys": [], "prune": True}, {"prune": True}),
    (
        "nested",
        {"repo": {"url": "https://git", "password": "x", "creds": {"token": "t"}}},
        {"repo": {"url": "https://git", "creds": {}}},
    ),
    (
        "in lists",
        {"sources": [{"repoURL": "r", "clientSecret": "s"}, {"repoURL": "q"}]},
        {"sources": [{"repoURL": "r"}, {"repoURL": "q"}]},
    ),
    (
        "name=value strings",
        {"helmSet": ["image.tag=2", "db.password=hunter2", "auth.apiKey=k"]},
        {"helmSet": ["image.tag=2", "db.password=<redacted>", "auth.apiKey=<redacted>"]},
    ),
    (
        "innocent words stay",
        {"monkey": 1, "keyboardLayout": "uk", "tokenizer": "bpe", "passenger": 2},
        {"monkey": 1, "keyboardLayout": "uk", "tokenizer": "bpe", "passenger": 2},
    ),
]


@pytest.mark.parametrize(
    ("given", "kept"), [(g, k) for _, g, k in REDACTIONS], ids=[n for n, *_ in REDACTIONS]
)
def test_redaction(given: dict[str, Any], kept: dict[str, Any]) -> None:
    assert redaction.redact(given) == kept


def test_secrets_never_reach_the_file(log: AuditLog) -> None:
    returned = log.record(
        _sync(ALICE, "team-a/web", parameters={"password": "hunter2", "set": ["a.token=s3cr3t"]})
    )
    assert returned.parameters == {"set": ["a.token=<redacted>"]}
    data = log.path.read_bytes() + Path(f"{log.path}-wal").read_bytes()
    assert b"hunter2" not in data and b"s3cr3t" not in data


# ---- the controller's entries --------------------------------------------------------------

REVISION = "main@sha1:" + "b" * 40


def _state(phase: OperationPhase, automated: bool = True) -> OperationState:
    web = ResourceKey("apps", "Deployment", "web", "web")

    def result(key: ResourceKey, action: str, hook: str = "") -> ResourceResult:
        return ResourceResult(key, "v1", ResultStatus.SYNCED, action=action, hook_type=hook)

    return OperationState(
        id="op-1",
        phase=phase,
        request=OperationRequest(
            SyncRequest(prune=True),
            InitiatedBy(username="" if automated else "alice", automated=automated),
        ),
        started_at="2026-03-01T12:00:00Z",
        message="successfully synced",
        revision=REVISION,
        resources=(
            result(web, "configured"),
            result(ResourceKey("", "Service", "web", "web"), "unchanged"),
            result(ResourceKey("", "ConfigMap", "web", "old"), "deleted"),
            result(ResourceKey("", "Namespace", "", "web"), "created"),
            result(ResourceKey("batch", "Job", "web", "migrate"), "created", hook="PreSync"),
        ),
    )


APP = {
    "metadata": {"name": "web", "namespace": "tether"},
    "spec": {"project": "team-a"},
    "status": {
        "sync": {"revision": REVISION},
        "history": [
            {"revision": "main@sha1:" + "a" * 40, "author": "Old <o@x>", "message": "old"},
            {"revision": REVISION, "author": "Ada Lovelace <ada@example.com>", "message": "v2"},
        ],
    },
}


def test_a_finished_automated_sync() -> None:
    entry = automation.sync_entry(APP, _state(OperationPhase.SUCCEEDED))
    assert (entry.action, entry.actor.name, entry.actor.kind) == (
        "controller.sync",
        "tether-controller",
        PrincipalKind.SERVICE,
    )
    assert (entry.resource, entry.object, entry.project) == ("applications", "team-a/web", "team-a")
    assert entry.result is Result.SUCCEEDED
    assert entry.deployment == Deployment(
        revision=REVISION,
        commit_author="Ada Lovelace <ada@example.com>",
        commit_message="v2",
        objects_changed=(
            "Deployment.apps/web/web configured",
            "ConfigMap/web/old deleted",
            "Namespace/web created",
        ),
        initiated_by="automated",
    )


def test_a_self_heal_names_who_caused_the_drift() -> None:
    cause = DriftCause(
        object="Deployment.apps/web/web",
        manager="kubectl-edit",
        operation="Apply",
        time="2026-03-01T11:59:00Z",
    )
    entry = automation.sync_entry(APP, _state(OperationPhase.SUCCEEDED), [cause])
    assert entry.deployment is not None
    assert entry.deployment.drift_corrected and entry.deployment.drift == (cause,)
    assert entry.message.startswith("self-heal: ")


def test_a_failed_sync_requested_by_a_user() -> None:
    app = {**APP, "status": {"history": []}}
    entry = automation.sync_entry(app, _state(OperationPhase.ERROR, automated=False))
    assert entry.result is Result.FAILED
    assert entry.deployment is not None
    assert entry.deployment.initiated_by == "alice"
    assert entry.deployment.commit_author == ""  # not deployed: no history entry


def test_drift_detected() -> None:
    cause = DriftCause(object="Deployment.apps/web/web", manager="kubectl-edit", operation="Apply")
    entry = automation.drift_entry({"metadata": {"name": "web"}, "status": APP["status"]}, cause)
    assert (entry.action, entry.object, entry.project) == (
        "controller.drift",
        "default/web",
        "default",
    )
    assert entry.deployment == Deployment(revision=REVISION, drift=(cause,))
    assert "changed by kubectl-edit (Apply)" in entry.message


# ---- the command ---------------------------------------------------------------------------


def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli, ["audit", *args], env={"COLUMNS": "200"})


def test_the_command_shows_filters_and_exports(history: AuditLog) -> None:
    db = str(history.path)
    table = _cli("--audit-db", db, "--app", "team-a/*")
    assert table.exit_code == 0, table.output
    assert "app.rollback" in table.output and "team-b/web" not in table.output
    paged = _cli("--audit-db", db, "--limit", "2", "-o", "json")
    assert [e["id"] for e in json.loads(paged.stdout)] == [6, 5]
    exported = _cli("--audit-db", db, "-o", "jsonl", "--result", "failed", "--since", "2026-03-01")
    assert [json.loads(line)["id"] for line in exported.stdout.splitlines()] == [3, 5]


def test_the_command_says_what_is_wrong(tmp_path: Path, history: AuditLog) -> None:
    missing = _cli("--audit-db", str(tmp_path / "nope.db"))
    assert missing.exit_code == 1 and "no audit trail" in missing.output
    bad = _cli("--audit-db", str(history.path), "--since", "yesterday")
    assert bad.exit_code == 1 and "not a time" in bad.output
