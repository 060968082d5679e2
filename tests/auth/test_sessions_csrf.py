"""Browser sessions and CSRF: a cookie alone never changes anything; the CSRF token (header or
form field) or a bearer token does. Sessions end at logout, when idle, and at their expiry."""

from __future__ import annotations

import io

import pytest
import structlog

from tests.auth.conftest import Account, FakeClock, login
from tether.auth import users
from tether.auth.authenticator import Authenticator
from tether.auth.state import digest
from tether.cluster.client import KubeClient

pytestmark = pytest.mark.cluster


async def _logged_in(client, alice: Account) -> str:
    reply = await login(client, alice.name, alice.password)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["csrfToken"])


async def test_cookie_without_csrf_token_is_forbidden(client, alice: Account) -> None:
    await _logged_in(client, alice)

    reply = await client.post("/api/v1/things")

    assert reply.status_code == 403
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["type"].endswith("/csrf-token-invalid")


async def test_cookie_with_a_wrong_csrf_token_is_forbidden(client, alice: Account) -> None:
    await _logged_in(client, alice)
    reply = await client.post("/api/v1/things", headers={"X-CSRF-Token": "guess"})
    assert reply.status_code == 403


async def test_cookie_with_csrf_header_is_allowed(client, alice: Account) -> None:
    csrf = await _logged_in(client, alice)

    reply = await client.post("/api/v1/things", headers={"X-CSRF-Token": csrf})

    assert reply.status_code == 200, reply.text
    assert reply.json() == {"by": "alice", "kind": "user", "method": "session"}


async def test_cookie_with_csrf_form_field_is_allowed(client, alice: Account) -> None:
    csrf = await _logged_in(client, alice)
    reply = await client.post("/api/v1/things", data={"csrf_token": csrf})
    assert reply.status_code == 200, reply.text


async def test_bearer_token_needs_no_csrf_token(client, authn: Authenticator) -> None:
    issued = await authn.tokens.issue("team-a", "ci")
    reply = await client.post("/api/v1/things", headers={"Authorization": f"Bearer {issued.token}"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["method"] == "token"


async def test_anonymous_requests_are_anonymous(client) -> None:
    reply = await client.post("/api/v1/things")
    assert reply.status_code == 200  # authorization, not authentication, refuses anonymous
    assert reply.json() == {"by": "anonymous", "kind": "anonymous", "method": "none"}


async def test_logout_invalidates_the_session(client, authn: Authenticator, alice) -> None:
    csrf = await _logged_in(client, alice)
    session_id = client.cookies["tether_session"]

    without_token = await client.delete("/api/v1/session")
    reply = await client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})

    assert without_token.status_code == 403
    assert reply.status_code == 204
    assert "tether_session=" in reply.headers["set-cookie"]
    assert authn.sessions.lookup(session_id) is None
    client.cookies.set("tether_session", session_id, domain="tether.test")  # replay it
    info = (await client.get("/api/v1/session/userinfo")).json()
    assert info == {"loggedIn": False, "username": "", "groups": [], "kind": "anonymous"}


async def test_sessions_expire_when_idle_and_at_their_end(
    client, authn: Authenticator, alice: Account, clock: FakeClock
) -> None:
    await _logged_in(client, alice)
    for step in range(1, 28):  # a request every 55 min: never idle for 2 h, until 24 h are up
        clock.advance(55 * 60)
        info = (await client.get("/api/v1/session/userinfo")).json()
        assert info["loggedIn"] is (step * 55 * 60 < 24 * 3600), step

    await _logged_in(client, alice)
    clock.advance(2 * 3600 + 1)
    assert (await client.get("/api/v1/session/userinfo")).json()["loggedIn"] is False


async def test_a_new_login_replaces_the_old_session(client, authn: Authenticator, alice) -> None:
    await _logged_in(client, alice)
    old = client.cookies["tether_session"]
    await _logged_in(client, alice)
    assert client.cookies["tether_session"] != old
    assert authn.sessions.lookup(old) is None


async def test_no_secret_is_logged_or_stored_in_clear(
    client, authn: Authenticator, alice: Account, kube: KubeClient, namespace: str
) -> None:
    captured, saved = io.StringIO(), structlog.get_config()
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(captured), cache_logger_on_first_use=False
    )
    try:
        csrf = await _logged_in(client, alice)
        await login(client, alice.name, "a wrong password")
        issued = await authn.tokens.issue("team-a", "ci")
        await client.post("/api/v1/things", headers={"Authorization": "Bearer " + issued.token})
        await client.post("/api/v1/things", headers={"Authorization": "Bearer forged.x.y"})
    finally:
        structlog.configure(**saved)
    session_id = client.cookies["tether_session"]
    user = await users.UserStore(kube, namespace).get(alice.name)
    assert user is not None
    logs = captured.getvalue()
    assert "login succeeded" in logs and "login failed" in logs
    for secret in (alice.password, "a wrong password", session_id, csrf, issued.token):
        assert secret not in logs
    assert user.password_hash not in logs
    db = authn.settings.state_db.read_bytes() + _wal(authn)
    assert session_id.encode() not in db and digest(session_id).encode() in db


def _wal(authn: Authenticator) -> bytes:
    wal = authn.settings.state_db.with_name(authn.settings.state_db.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


async def test_dead_rows_are_pruned(
    client, authn: Authenticator, alice: Account, clock: FakeClock
) -> None:
    await _logged_in(client, alice)
    await login(client, "nobody", "wrong password")
    clock.advance(2 * 24 * 3600)

    authn.prune(force=True)

    with authn.db.read() as conn:
        counts = [
            conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
            for table in ("sessions", "login_failures")
        ]
    assert counts == [0, 0]
