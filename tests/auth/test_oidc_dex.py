"""Single sign-on end to end against a real Dex, with tether's routes served by a real uvicorn on
loopback: redirect with PKCE, Dex's login form, the callback, groups, the session. Then the ways
a callback must fail: tampered state, another browser, replay, no or a wrong PKCE verifier."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import update
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.auth import dex
from tests.auth.conftest import make_app
from tether.auth.authenticator import Authenticator
from tether.auth.settings import AuthSettings, OIDCSettings
from tether.auth.state import oidc_flows
from tether.cluster.client import KubeClient

pytestmark = pytest.mark.cluster

ALICE = dex.DexUser("alice@example.com", "alice", "alice's dex password", ("team-a", "platform"))
BOB = dex.DexUser("bob@example.com", "bob", "bob's dex password", ())


class Switch:
    """One uvicorn for the whole session; each test plugs its own app in."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def served() -> AsyncIterator[tuple[str, Switch]]:
    switch, port = Switch(), dex.free_port()
    config = uvicorn.Config(
        switch, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}", switch
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
def provider(
    served: tuple[str, Switch], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dex.Dex]:
    base_url, _ = served
    workdir = tmp_path_factory.mktemp("dex")
    running, proc = dex.start(workdir, f"{base_url}/auth/oidc/callback", [ALICE, BOB])
    yield running
    dex.stop(proc)


@pytest.fixture
def sso(
    kube: KubeClient,
    settings: AuthSettings,
    provider: dex.Dex,
    served: tuple[str, Switch],
) -> Iterator[tuple[Authenticator, str]]:
    base_url, switch = served
    oidc = OIDCSettings(
        issuer=provider.issuer,
        client_id=dex.CLIENT_ID,
        client_secret=provider.client_secret,
        redirect_uri=f"{base_url}/auth/oidc/callback",
    )
    authn = Authenticator(replace(settings, cookie_secure=False, oidc=oidc), kube)
    switch.app = make_app(authn)
    yield authn, base_url
    authn.close()


async def _start(http: httpx.AsyncClient, base_url: str, return_to: str) -> str:
    reply = await http.get(f"{base_url}/auth/oidc/login", params={"return_to": return_to})
    assert reply.status_code == 302, reply.text
    assert "tether_oidc=" in reply.headers["set-cookie"]
    return reply.headers["location"]


async def test_sso_login_end_to_end(sso: tuple[Authenticator, str], provider: dex.Dex) -> None:
    _, base_url = sso
    async with httpx.AsyncClient() as browser:
        authorize = await _start(browser, base_url, "/api/v1/session/userinfo")
        query = parse_qs(urlsplit(authorize).query)
        assert authorize.startswith(f"{provider.issuer}/auth?")
        assert query["response_type"] == ["code"] and query["client_id"] == ["tether"]
        assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
        assert query["state"][0] and query["nonce"][0]
        assert set(query["scope"][0].split()) >= {"openid", "groups", "email"}

        callback = await dex.sign_in(browser, authorize, ALICE)
        landed = await browser.get(callback, follow_redirects=True)

        assert landed.url.path == "/api/v1/session/userinfo"
        info = landed.json()
        assert info["loggedIn"] is True and info["username"] == "alice@example.com"
        assert info["groups"] == ["team-a", "platform"] and info["kind"] == "user"
        changed = await browser.post(
            f"{base_url}/api/v1/things", headers={"X-CSRF-Token": info["csrfToken"]}
        )
        assert changed.json() == {"by": "alice@example.com", "kind": "user", "method": "session"}
        assert (await browser.post(f"{base_url}/api/v1/things")).status_code == 403


async def test_a_user_without_groups_gets_none(sso: tuple[Authenticator, str]) -> None:
    _, base_url = sso
    async with httpx.AsyncClient() as browser:
        callback = await dex.sign_in(browser, await _start(browser, base_url, "/"), BOB)
        await browser.get(callback)
        info = (await browser.get(f"{base_url}/api/v1/session/userinfo")).json()
    assert info["username"] == "bob@example.com" and info["groups"] == []


async def test_a_tampered_state_is_refused(sso: tuple[Authenticator, str]) -> None:
    _, base_url = sso
    async with httpx.AsyncClient() as browser:
        callback = await dex.sign_in(browser, await _start(browser, base_url, "/"), ALICE)
        state = parse_qs(urlsplit(callback).query)["state"][0]
        tampered = await browser.get(_with_query(callback, state=state[:-2] + "xx"))
        assert tampered.status_code == 400
        assert tampered.headers["content-type"] == "application/problem+json"
        assert tampered.json()["type"].endswith("/oidc-login-failed")
        assert "tether_session" not in browser.cookies
        # The genuine callback was not spent by the forgery: it still completes.
        assert (await browser.get(callback)).status_code == 303


async def test_a_callback_in_another_browser_is_refused(sso: tuple[Authenticator, str]) -> None:
    _, base_url = sso
    async with httpx.AsyncClient() as victim, httpx.AsyncClient() as attacker:
        callback = await dex.sign_in(attacker, await _start(attacker, base_url, "/"), ALICE)
        # Login CSRF: the attacker hands their callback URL to the victim's browser.
        reply = await victim.get(callback)
    assert reply.status_code == 400
    assert "tether_session" not in victim.cookies


async def test_a_callback_cannot_be_replayed(sso: tuple[Authenticator, str]) -> None:
    _, base_url = sso
    async with httpx.AsyncClient() as browser:
        callback = await dex.sign_in(browser, await _start(browser, base_url, "/"), ALICE)
        assert (await browser.get(callback)).status_code == 303
        assert (await browser.get(callback)).status_code == 400


@pytest.mark.parametrize("verifier", ["", "a-verifier-that-is-not-the-one-challenged-xxxxxxxxxx"])
async def test_a_missing_or_wrong_pkce_verifier_fails(
    sso: tuple[Authenticator, str], verifier: str
) -> None:
    authn, base_url = sso
    async with httpx.AsyncClient() as browser:
        callback = await dex.sign_in(browser, await _start(browser, base_url, "/"), ALICE)
        with authn.db.write() as conn:  # what our side would send to Dex with the code
            conn.execute(update(oidc_flows).values(code_verifier=verifier))
        reply = await browser.get(callback)
    assert reply.status_code == 400, reply.text
    assert "tether_session" not in browser.cookies


async def test_dex_refuses_the_code_without_the_verifier(
    sso: tuple[Authenticator, str], provider: dex.Dex
) -> None:
    """PKCE is enforced by the provider too: the code alone, even with the client secret, is
    worth nothing to someone who intercepted it."""
    _, base_url = sso
    async with httpx.AsyncClient() as browser:
        callback = await dex.sign_in(browser, await _start(browser, base_url, "/"), ALICE)
        code = parse_qs(urlsplit(callback).query)["code"][0]
        stolen = await browser.post(
            f"{provider.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": f"{base_url}/auth/oidc/callback",
            },
            auth=(dex.CLIENT_ID, provider.client_secret),
        )
    assert stolen.status_code == 400, stolen.text
    assert stolen.json()["error"] in {"invalid_grant", "invalid_request"}


async def test_open_redirects_are_not_followed(sso: tuple[Authenticator, str]) -> None:
    _, base_url = sso
    async with httpx.AsyncClient() as browser:
        authorize = await _start(browser, base_url, "//evil.example/steal")
        callback = await dex.sign_in(browser, authorize, ALICE)
        reply = await browser.get(callback)
    assert reply.status_code == 303 and reply.headers["location"] == "/"


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))
