"""Fixtures for the API server: the real FastAPI app (lifespan and all) served in process through
httpx.ASGITransport, against the shared control plane, in the test's own namespace.

The world most tests use (`world`): two projects (team-a, team-b) with one app each, reading a
real Git repository; an RBAC policy with a developer role per team and a read-only group; and
signed-in clients for admin (the bootstrapped account), alice (team-a), bob (team-b), rita
(read-only) and an anonymous one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
import uvicorn
from fastapi import FastAPI

from tests.conftest import Cluster
from tests.controller.conftest import start_controller  # noqa: F401 - a fixture, reused
from tests.support.apps_fixtures import Repo
from tests.support.gitserver import free_port
from tether.api.app import create_app
from tether.api.services import Services
from tether.api.settings import ServerSettings
from tether.auth.settings import AuthSettings
from tether.authz.loader import CONFIG_MAP
from tether.cluster.client import KubeClient
from tether.service.runtime import Settings

BASE_URL = "https://tether.test"
CLIENT_ADDRESS = ("198.51.100.20", 40000)
POLICY = """
p, role:team-a-dev, applications, get, team-a/*, allow
p, role:team-a-dev, applications, sync, team-a/*, allow
p, role:team-a-dev, applications, update, team-a/*, allow
p, role:team-a-dev, applications, create, team-a/*, allow
p, role:team-a-dev, projects, get, team-a, allow
p, role:team-a-dev, audit, get, team-a/*, allow
p, role:team-b-dev, applications, get, team-b/*, allow
p, role:team-b-dev, applications, sync, team-b/*, allow
p, role:team-b-dev, applications, update, team-b/*, allow
p, role:team-b-dev, applications, create, team-b/*, allow
p, role:team-b-dev, projects, get, team-b, allow
p, role:team-b-dev, audit, get, team-b/*, allow
g, team-a, role:team-a-dev
g, team-b, role:team-b-dev
g, readers, role:readonly
"""
MANIFESTS = {
    "app/config.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  greeting: {value}\n"
    ),
}


@dataclass
class Api:
    app: FastAPI
    namespace: str
    audit_db: Path
    secrets: set[str] = field(default_factory=set)  # values no answer may ever contain

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=CLIENT_ADDRESS)
        return httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers=headers or {}, timeout=60
        )

    async def login(self, name: str, password: str) -> httpx.AsyncClient:
        """A client signed in as `name`, sending the session's CSRF token on every request."""
        http = self.client()
        reply = await http.post("/api/v1/session", json={"username": name, "password": password})
        assert reply.status_code == 200, reply.text
        http.headers["X-CSRF-Token"] = reply.json()["csrfToken"]
        self.secrets.add(password)
        self.secrets.update(c.value for c in http.cookies.jar if c.value)
        return http

    def app_path(self, name: str, suffix: str = "") -> str:
        return f"/api/v1/applications/{self.namespace}/{name}{suffix}"


async def write_policy(kube: KubeClient, namespace: str, csv: str, default: str = "") -> None:
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIG_MAP, "namespace": namespace},
            "data": {"policy.csv": csv, "policy.default": default},
        },
        field_manager="tests",
        force=True,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def api(
    cluster: Cluster, kube: KubeClient, namespace: str, tether_installed: None, tmp_path: Path
) -> AsyncIterator[Api]:
    await write_policy(kube, namespace, POLICY)
    settings = ServerSettings(
        runtime=Settings(
            kubeconfig=cluster.kubeconfig, namespace=namespace, cache_dir=tmp_path / "cache"
        ),
        auth=AuthSettings(namespace=namespace, state_db=tmp_path / "state.db"),
        audit_db=tmp_path / "audit.db",
        heartbeat_seconds=1.0,
        wait_timeout=60.0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield Api(app, namespace, tmp_path / "audit.db")


async def initial_admin_password(kube: KubeClient, namespace: str) -> str:
    secret = await kube.get("v1", "Secret", "tether-initial-admin", namespace)
    return base64.b64decode(secret["data"]["password"]).decode()


def app_body(name: str, project: str, repo: Repo, namespace: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"team": project}},
        "spec": {
            "project": project,
            "source": {"repoURL": repo.url, "path": "app", "targetRevision": "main"},
            "destination": {"cluster": "in-cluster", "namespace": namespace},
        },
    }


def project_body(name: str, repo: Repo, namespace: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "description": f"{name}'s apps",
            "sourceRepos": [repo.url],
            "destinations": [{"cluster": "in-cluster", "namespace": namespace}],
            "roles": [
                {
                    "name": "ci",
                    "policies": [
                        f"p, proj:{name}:ci, applications, {action}, {name}/*, allow"
                        for action in ("get", "sync")
                    ],
                }
            ],
        },
    }


@dataclass
class World:
    api: Api
    repo: Repo
    admin: httpx.AsyncClient
    users: dict[str, httpx.AsyncClient]  # admin, team-a, team-b, readonly, anonymous
    apps: dict[str, str]  # project -> its app's name


USERS = {"alice": ("team-a",), "bob": ("team-b",), "rita": ("readers",)}
ROLE_OF = {"alice": "team-a", "bob": "team-b", "rita": "readonly"}


@pytest_asyncio.fixture(loop_scope="session")
async def world(api: Api, kube: KubeClient, make_repo: Callable[[], Repo]) -> AsyncIterator[World]:
    repo = make_repo()
    repo.commit(
        "first",
        {"app/config.yaml": MANIFESTS["app/config.yaml"].format(name="greeting", value="hello")},
    )
    password = await initial_admin_password(kube, api.namespace)
    admin = await api.login("admin", password)
    users = {"admin": admin, "anonymous": api.client()}
    for name, groups in USERS.items():
        secret = f"{name}-Secret-Pa55word!"
        await api.services.authn.users.create(name, secret, groups)
        users[ROLE_OF[name]] = await api.login(name, secret)
    apps = {}
    for project in ("team-a", "team-b"):
        reply = await admin.post(
            "/api/v1/projects", json=project_body(project, repo, api.namespace)
        )
        assert reply.status_code == 201, reply.text
        name = f"web-{project.removeprefix('team-')}"
        reply = await admin.post(
            "/api/v1/applications", json=app_body(name, project, repo, api.namespace)
        )
        assert reply.status_code == 201, reply.text
        apps[project] = name
    try:
        yield World(api, repo, admin, users, apps)
    finally:
        for http in users.values():
            await http.aclose()


class _EmbeddedServer(uvicorn.Server):
    """uvicorn in the test's event loop; signals stay pytest's."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest_asyncio.fixture(loop_scope="session")
async def served(api: Api) -> AsyncIterator[str]:
    """The same app (services already open) over real HTTP on a loopback port, for what needs a
    socket: streaming answers (SSE) and `tether app --server` in a subprocess."""
    port = free_port()
    config = uvicorn.Config(
        api.app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
