"""The authorization matrix: every endpoint x {admin, team-a dev, team-b dev, read-only,
anonymous} x {team-a's app, team-b's app}, against the policy in conftest.POLICY.

Expected answers follow from the policy alone: 401 for anonymous; the endpoint's own success (or
its use-case answer, e.g. 409 for a project still in use) where the policy allows; 403 where the
caller may see the object but not act on it; 404, the very answer a missing object gets, where
the caller may not see it. Creating something new is 403 when not allowed (there is nothing to
hide yet). Every answer is also searched for credentials.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api.conftest import CLIENT_ADDRESS, World
from tether.audit import queries
from tether.audit.entries import Entry
from tether.engine.tracking import AppRef

pytestmark = pytest.mark.cluster

ROLES = ("admin", "team-a", "team-b", "readonly", "anonymous")
PROJECTS = ("team-a", "team-b")
TEAM_GRANTS = {("applications", a) for a in ("get", "sync", "update", "create")} | {
    ("projects", "get"),
    ("audit", "get"),
}
CREDENTIAL_KEYS = {
    "password",
    "sshPrivateKey",
    "bearerToken",
    "token",
    "client-key-data",
    "keyData",
    "csrf_token",
}


def allowed(role: str, resource: str, action: str, project: str | None) -> bool:
    if role == "admin":
        return True
    if role == "readonly":
        return action == "get"
    if role in PROJECTS:
        return project == role and (resource, action) in TEAM_GRANTS
    return False


def expected(role: str, call: Call, project: str | None) -> int:
    if role == "anonymous":
        return 401
    if allowed(role, call.resource, call.action, project):
        return call.ok
    if call.action == "create" or allowed(role, call.resource, "get", project):
        return 403
    return 404


@dataclass(frozen=True)
class Call:
    id: str
    method: str
    path: str  # {ns}, {app}, {project}, {who} are filled in
    resource: str
    action: str
    ok: int
    body: Any = None
    per_app: bool = True  # run once per project's app (else once, about no project)


APP = "/api/v1/applications/{ns}/{app}"
CALLS = [
    Call("get", "GET", APP, "applications", "get", 200),
    Call("diff", "GET", APP + "/diff", "applications", "get", 200),
    Call("manifests", "GET", APP + "/manifests", "applications", "get", 200),
    Call("tree", "GET", APP + "/tree", "applications", "get", 200),
    Call("events", "GET", APP + "/events", "applications", "get", 200),
    Call("history", "GET", APP + "/history", "applications", "get", 200),
    Call(
        "update",
        "PATCH",
        APP,
        "applications",
        "update",
        200,
        {"spec": {"source": {"targetRevision": "main"}}},
    ),
    Call("sync", "POST", APP + "/sync", "applications", "sync", 202, {"dryRun": True}),
    Call("rollback", "POST", APP + "/rollback", "applications", "sync", 400, {"id": 0}),
    Call("delete", "DELETE", APP + "?cascade=false", "applications", "delete", 204),
    Call("create-app", "POST", "/api/v1/applications", "applications", "create", 201),
    Call("get-project", "GET", "/api/v1/projects/{project}", "projects", "get", 200),
    Call("update-project", "PUT", "/api/v1/projects/{project}", "projects", "update", 200),
    Call("delete-project", "DELETE", "/api/v1/projects/{project}", "projects", "delete", 409),
    Call(
        "get-cluster", "GET", "/api/v1/clusters/in-cluster", "clusters", "get", 200, per_app=False
    ),
    Call("create-cluster", "POST", "/api/v1/clusters", "clusters", "create", 201, per_app=False),
    Call(
        "delete-cluster",
        "DELETE",
        "/api/v1/clusters/staging",
        "clusters",
        "delete",
        204,
        per_app=False,
    ),
    Call(
        "create-repository",
        "POST",
        "/api/v1/repositories",
        "repositories",
        "create",
        201,
        per_app=False,
    ),
    Call(
        "delete-repository",
        "DELETE",
        "/api/v1/repositories?url=https://git.example.com/private.git",
        "repositories",
        "delete",
        204,
        per_app=False,
    ),
]
# What admin must not run inside the matrix (it would remove what later rows need); its
# success is shown by the flow tests.
ADMIN_SKIPS = {"delete", "delete-cluster", "delete-repository"}
CLUSTER_TOKEN = "cluster-bearer-t0ken-never-shown"
REPO_PASSWORD = "repo-pa55word-never-shown"
REPO_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnever-shown\n-----END OPENSSH PRIVATE KEY-----"


def _body(call: Call, world: World, role: str, project: str | None) -> Any:
    if call.id == "create-app":
        return {
            "metadata": {"name": f"new-{role}-{project}"},
            "spec": {
                "project": project,
                "source": {"repoURL": world.repo.url, "path": "app", "targetRevision": "main"},
                "destination": {"cluster": "in-cluster", "namespace": world.api.namespace},
            },
        }
    if call.id == "update-project":
        return {
            "spec": {
                "description": f"edited by {role}",
                "sourceRepos": [world.repo.url],
                "destinations": [{"cluster": "in-cluster", "namespace": world.api.namespace}],
            }
        }
    if call.id == "create-cluster":
        return {
            "name": f"c-{role}",
            "kubeconfig": {
                "clusters": [{"cluster": {"server": "https://192.0.2.10:6443"}}],
                "users": [{"user": {"token": CLUSTER_TOKEN}}],
            },
        }
    if call.id == "create-repository":
        return {
            "url": f"https://git.example.com/{role}.git",
            "username": "deployer",
            "password": REPO_PASSWORD,
        }
    return call.body


def credential_leaks(text: str, secrets: set[str]) -> list[str]:
    found = [f"secret value {s[:6]}..." for s in secrets if s and s in text]
    try:
        doc = json.loads(text)
    except ValueError:
        return found

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in CREDENTIAL_KEYS and isinstance(item, str) and item:
                    found.append(f"{where}.{key}")
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    walk(doc, "$")
    return found


async def _prepare(world: World) -> None:
    """A registered cluster and repository credentials, for the delete rows to aim at."""
    reply = await world.admin.post(
        "/api/v1/clusters",
        json={
            "name": "staging",
            "kubeconfig": {
                "clusters": [{"cluster": {"server": "https://192.0.2.11:6443"}}],
                "users": [{"user": {"token": CLUSTER_TOKEN}}],
            },
        },
    )
    assert reply.status_code == 201, reply.text
    reply = await world.admin.post(
        "/api/v1/repositories",
        json={
            "url": "https://git.example.com/private.git",
            "sshPrivateKey": REPO_KEY,
            "password": REPO_PASSWORD,
        },
    )
    assert reply.status_code == 201, reply.text


def _actions(world: World) -> list[Entry]:
    """Audit entries of actions other than logins, oldest first."""
    audit = world.api.services.audit
    assert audit is not None
    entries = audit.query(queries.Filter(), 1000, None).entries
    return [e for e in reversed(entries) if not e.action.startswith("log")]


async def _send(http: httpx.AsyncClient, call: Call, path: str, body: Any) -> httpx.Response:
    if body is None:
        return await http.request(call.method, path)
    return await http.request(call.method, path, json=body)


async def test_every_endpoint_answers_exactly_what_the_policy_says(world: World) -> None:
    api = world.api
    api.secrets.update({CLUSTER_TOKEN, REPO_PASSWORD, "never-shown"})
    await _prepare(world)
    mismatches: list[str] = []
    leaks: list[str] = []
    rows = 0
    writes: list[tuple[str, str, str | None]] = []
    before = _actions(world)
    for call in CALLS:
        for project in PROJECTS if call.per_app else (None,):
            for role in ROLES:
                if role == "admin" and call.id in ADMIN_SKIPS:
                    continue
                app = world.apps.get(project or "", "")
                path = call.path.format(ns=api.namespace, app=app, project=project)
                body = _body(call, world, role, project)
                reply = await _send(world.users[role], call, path, body)
                rows += 1
                if call.method != "GET" and role != "anonymous":
                    writes.append((call.id, role, project))
                want = expected(role, call, project)
                label = f"{call.id:18} {role:9} {project or '-':6}"
                if reply.status_code != want:
                    mismatches.append(f"{label} got {reply.status_code}, want {want}: {reply.text}")
                if reply.status_code >= 400:
                    kind = reply.headers.get("content-type", "")
                    if not kind.startswith("application/problem+json"):
                        mismatches.append(f"{label} answered {kind}, not a problem document")
                found = credential_leaks(reply.text, api.secrets)
                leaks.extend(f"{label}: {leak}" for leak in found)
                if call.id == "sync" and reply.status_code == 202:
                    await api.services.runtime.store.clear_operation(AppRef(api.namespace, app))
    assert rows == 161
    # Every change an authenticated caller attempted, allowed or not, is one audit entry.
    recorded = _actions(world)[len(before) :]
    assert len(recorded) == len(writes), (recorded, writes)
    denied = [e for e in recorded if e.result == "denied"]
    assert {e.actor.name for e in denied} == {"alice", "bob", "rita"}
    assert all(e.source_ip == CLIENT_ADDRESS[0] for e in recorded)
    assert not mismatches, "\n".join(mismatches)
    assert not leaks, "\n".join(leaks)


async def test_lists_show_only_what_each_caller_may_see(world: World) -> None:
    seen: dict[str, dict[str, list[str]]] = {}
    for role in ROLES:
        http = world.users[role]
        answers = {
            path: await http.get(f"/api/v1/{path}")
            for path in ("applications", "projects", "clusters", "repositories", "audit")
        }
        if role == "anonymous":
            for path in ("stream/applications", "audit/export"):
                answers[path] = await http.get(f"/api/v1/{path}")
            assert {r.status_code for r in answers.values()} == {401}
            continue
        for reply in answers.values():
            assert reply.status_code == 200, reply.text
            assert not credential_leaks(reply.text, world.api.secrets)
        seen[role] = {
            "applications": [a["name"] for a in answers["applications"].json()["items"]],
            "projects": [p["metadata"]["name"] for p in answers["projects"].json()["items"]],
            "clusters": [c["name"] for c in answers["clusters"].json()["items"]],
            "audit": sorted({e["object"] for e in answers["audit"].json()["items"]}),
        }
    assert seen["admin"]["applications"] == seen["readonly"]["applications"] == ["web-a", "web-b"]
    assert seen["team-a"] == {
        "applications": ["web-a"],
        "projects": ["team-a"],
        "clusters": [],
        "audit": ["team-a/web-a"],
    }
    assert seen["team-b"]["applications"] == ["web-b"]
    assert seen["team-b"]["audit"] == ["team-b/web-b"]
    assert seen["readonly"]["clusters"] == ["in-cluster"]
