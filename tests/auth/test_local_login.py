"""Local accounts against the real API server: the tether-users Secret, admin bootstrap, login
through the HTTP API, failures that never say whether a user exists, and argon2id hashes."""

from __future__ import annotations

import base64
import statistics
import time

import pytest
from argon2 import PasswordHasher, extract_parameters

from tests.auth.conftest import Account, login
from tether.auth import passwords, users
from tether.auth.authenticator import Authenticator
from tether.cluster.client import KubeClient

pytestmark = pytest.mark.cluster


async def test_login_sets_a_session_cookie_and_returns_the_user(client, alice: Account) -> None:
    reply = await login(client, alice.name, alice.password)

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["username"] == "alice"
    assert body["groups"] == ["team-a", "ops"]
    assert len(body["csrfToken"]) >= 43
    cookie = reply.headers["set-cookie"]
    for attribute in ("tether_session=", "HttpOnly", "Path=/", "SameSite=lax", "Secure"):
        assert attribute in cookie
    info = (await client.get("/api/v1/session/userinfo")).json()
    assert info["loggedIn"] is True and info["username"] == "alice"
    assert info["groups"] == ["team-a", "ops"] and info["kind"] == "user"


async def test_wrong_password_and_unknown_user_get_the_same_answer(client, alice: Account) -> None:
    wrong = await login(client, alice.name, "not the password")
    unknown = await login(client, "mallory", "not the password")

    for reply in (wrong, unknown):
        assert reply.status_code == 401
        assert reply.headers["content-type"] == "application/problem+json"
        assert "set-cookie" not in reply.headers
    assert _without_instance(wrong.json()) == _without_instance(unknown.json())
    assert wrong.json()["detail"] == "invalid username or password"
    assert "not the password" not in wrong.text + unknown.text


async def test_unknown_user_costs_as_much_as_a_wrong_password(
    authn: Authenticator, alice: Account
) -> None:
    async def timed(name: str) -> float:
        start = time.perf_counter()
        with pytest.raises(Exception, match="invalid username or password"):
            await authn.login(name, "wrong password!", f"198.51.100.{len(name)}")
        return time.perf_counter() - start

    known = [await timed(alice.name) for _ in range(3)]
    unknown = [await timed("nobody-here") for _ in range(3)]
    # Both hash once with the same parameters; a skipped hash would be ~100x faster.
    assert statistics.median(unknown) > 0.5 * statistics.median(known)


async def test_disabled_account_cannot_log_in_and_says_nothing_more(
    client, authn: Authenticator, alice: Account
) -> None:
    await authn.users.set_disabled(alice.name, True)

    reply = await login(client, alice.name, alice.password)

    assert reply.status_code == 401
    assert reply.json()["detail"] == "invalid username or password"


async def test_malformed_login_bodies_are_problems_that_echo_nothing(client) -> None:
    for body in ({"username": "a"}, {"username": "a", "password": 12345678}, ["x"]):
        reply = await client.post("/api/v1/session", json=body)
        assert reply.status_code == 400
        assert reply.json()["type"].endswith("/bad-request")
        assert "12345678" not in reply.text


async def test_users_live_in_the_secret_as_argon2id_phc_strings(
    kube: KubeClient, namespace: str, authn: Authenticator, alice: Account
) -> None:
    secret = await kube.get("v1", "Secret", users.SECRET, namespace)
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}

    assert set(data) == {"alice.password", "alice.groups", "alice.passwordMtime"}
    assert data["alice.groups"] == "team-a,ops"
    phc = data["alice.password"]
    assert phc.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    params = extract_parameters(phc)
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19456, 2, 1)
    assert (params.hash_len, params.salt_len) == (32, 16)
    assert passwords.verify(phc, alice.password)


async def test_ensure_admin_bootstraps_once_with_a_random_password(
    kube: KubeClient, namespace: str, client, authn: Authenticator
) -> None:
    first = await authn.ensure_admin()
    second = await authn.ensure_admin()

    assert first is not None and len(first) >= 20
    assert second is None
    initial = await kube.get("v1", "Secret", users.INITIAL_ADMIN_SECRET, namespace)
    assert base64.b64decode(initial["data"]["password"]).decode() == first
    assert (await login(client, "admin", first)).status_code == 200


async def test_account_changes_end_the_sessions_they_invalidate(
    client, authn: Authenticator, alice: Account, clock
) -> None:
    assert (await login(client, alice.name, alice.password)).status_code == 200

    clock.advance(10)  # past the few seconds a session's view of the account may be stale
    await authn.users.set_password(alice.name, "a brand new password")
    clock.advance(10)

    info = (await client.get("/api/v1/session/userinfo")).json()
    assert info["loggedIn"] is False
    assert (await login(client, alice.name, "a brand new password")).status_code == 200


async def test_user_names_and_passwords_are_checked(authn: Authenticator) -> None:
    with pytest.raises(Exception, match="user name"):
        await authn.users.create("../etc", "long enough password")
    with pytest.raises(Exception, match="8 to 1024 characters"):
        await authn.users.create("bob", "short")


def _without_instance(problem: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in problem.items() if k != "instance"}


async def test_a_hash_with_other_parameters_is_upgraded_at_login(
    client, authn: Authenticator, alice: Account
) -> None:
    legacy = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash(alice.password)
    await authn.users.set_hash(alice.name, legacy)

    assert (await login(client, alice.name, alice.password)).status_code == 200

    upgraded = await authn.users.get(alice.name)
    assert upgraded is not None and upgraded.password_hash != legacy
    assert extract_parameters(upgraded.password_hash).memory_cost == passwords.MEMORY_COST_KIB
    assert (await client.get("/api/v1/session/userinfo")).json()["loggedIn"] is True


async def test_an_account_created_after_the_account_cache_filled_keeps_its_session(
    client, authn: Authenticator, alice: Account
) -> None:
    """Regression: a session of an account newer than the cached account list was ended as if
    the account had been deleted."""
    await login(client, alice.name, alice.password)  # fills the account cache without bob
    await authn.users.create("bob", "another long password", ("team-b",))

    reply = await login(client, "bob", "another long password")
    assert reply.status_code == 200, reply.text
    info = (await client.get("/api/v1/session/userinfo")).json()

    assert info["loggedIn"] is True and info["username"] == "bob"
