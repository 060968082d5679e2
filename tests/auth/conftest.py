"""Fixtures for authentication tests: real Secrets in a fresh namespace, a state db in a temp
dir, a fake clock where time matters, and a tiny FastAPI app that mounts the auth router next to
one protected POST route, served in process through httpx.ASGITransport."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import Depends, FastAPI

from tether.auth import routes
from tether.auth.authenticator import Authentication, Authenticator
from tether.auth.settings import AuthSettings
from tether.cluster.client import KubeClient
from tether.model.principals import Principal

BASE_URL = "https://tether.test"  # https: the session cookie is Secure
CLIENT_ADDRESS = ("203.0.113.7", 50000)


@dataclass
class FakeClock:
    """Starts at the real time (pyjwt checks `exp`/`iat` against its own clock as well)."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_app(authn: Authenticator) -> FastAPI:
    """What the API server will do, in miniature: mount the router, protect a POST route."""
    app = FastAPI()
    routes.install(app, authn)

    @app.post("/api/v1/things")
    async def change_things(
        auth: Authentication = Depends(authn.require_csrf),
        who: Principal = Depends(authn.principal),
    ) -> dict[str, object]:
        return {"by": who.name, "kind": who.kind.value, "method": auth.method.value}

    return app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path, namespace: str) -> AuthSettings:
    return AuthSettings(namespace=namespace, state_db=tmp_path / "state" / "state.db")


AuthenticatorFactory = Callable[..., Authenticator]


@pytest_asyncio.fixture(loop_scope="session")
async def make_authenticator(
    kube: KubeClient, settings: AuthSettings, clock: FakeClock
) -> AsyncIterator[AuthenticatorFactory]:
    """Authenticators over the same namespace and state db (a 'restart' is a second one)."""
    made: list[Authenticator] = []

    def make(**overrides: object) -> Authenticator:
        authn = Authenticator(replace(settings, **overrides), kube, clock=clock)  # type: ignore[arg-type]
        made.append(authn)
        return authn

    yield make
    for authn in made:
        authn.close()


@pytest.fixture
def authn(make_authenticator: AuthenticatorFactory) -> Authenticator:
    return make_authenticator()


def client_for(
    authn: Authenticator, address: tuple[str, int] = CLIENT_ADDRESS
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(authn), client=address)
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


@pytest_asyncio.fixture(loop_scope="session")
async def client(authn: Authenticator) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(authn) as http:
        yield http


@dataclass(frozen=True)
class Account:
    name: str
    password: str
    groups: tuple[str, ...]


@pytest_asyncio.fixture(loop_scope="session")
async def alice(authn: Authenticator) -> Account:
    account = Account("alice", "correct horse battery", ("team-a", "ops"))
    await authn.users.create(account.name, account.password, account.groups)
    return account


async def login(http: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/session", json={"username": name, "password": password})
