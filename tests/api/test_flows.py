"""End to end through the API with a real controller: a sync finishes and the SSE stream shows
it, a sync from `tether app --server` with a project token, a rollback, a cascading delete, and
each of those actions exactly once in the audit trail with its actor and source address."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import CLIENT_ADDRESS, MANIFESTS, Api, World
from tests.controller.conftest import StartController
from tests.support.waiting import wait_for
from tether.audit import queries
from tether.cluster.client import KubeClient

pytestmark = pytest.mark.cluster


async def _events(base: str, token: str, into: list[dict[str, Any]]) -> None:
    """Read the application stream into `into` until cancelled (a failure is put in `into`)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=base, headers=headers, timeout=None) as http,
        http.stream("GET", "/api/v1/stream/applications") as reply,
    ):
        if reply.status_code != 200:
            into.append({"type": "FAILED", "application": {"name": (await reply.aread()).decode()}})
            return
        assert reply.headers["content-type"].startswith("text/event-stream")
        async for line in reply.aiter_lines():
            if line.startswith("data:"):
                into.append(json.loads(line.removeprefix("data:").strip()))


@pytest.fixture
async def stream(served: str, world: World) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    token = (await world.api.services.authn.tokens.issue("team-a", "ci")).token
    world.api.secrets.add(token)
    # The project role behind the token was created moments ago; the policy is re-read every
    # few seconds, so wait until the token sees its app (else the stream's first events, and a
    # quick sync's, would rightly be hidden from it).
    async with world.api.client({"Authorization": f"Bearer {token}"}) as http:
        await wait_for(
            lambda: http.get("/api/v1/applications"),
            lambda reply: [a["name"] for a in reply.json()["items"]] == ["web-a"],
            what="team-a's token seeing web-a",
        )
    seen: list[dict[str, Any]] = []
    task = asyncio.create_task(_events(served, token, seen))
    yield token, seen
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _greeting(kube: KubeClient, namespace: str) -> str | None:
    found = await kube.get_or_none("v1", "ConfigMap", "greeting", namespace)
    return None if found is None else str(found["data"]["greeting"])


def _cli(base: str, token: str, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tether", "app", "--server", base, "-N", namespace, *args]
    env = {**os.environ, "TETHER_AUTH_TOKEN": token, "COLUMNS": "200"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)


async def _audit(api: Api, action: str) -> list[dict[str, Any]]:
    page = api.services.audit.query(queries.Filter(action=action), 100, None)  # type: ignore[union-attr]
    return [e.to_dict() for e in page.entries]


async def test_sync_stream_cli_rollback_delete_and_their_audit(
    world: World,
    stream: tuple[str, list[dict[str, Any]]],
    served: str,
    start_controller: StartController,
    kube: KubeClient,
) -> None:
    api, alice = world.api, world.users["team-a"]
    token, seen = stream
    start_controller()

    # 1. alice syncs through the API and waits for the controller to finish it.
    reply = await alice.post(api.app_path("web-a", "/sync?wait=true&timeout=60"), json={})
    assert reply.status_code == 200, reply.text
    assert reply.json()["finished"] and reply.json()["state"]["phase"] == "Succeeded"
    assert await _greeting(kube, api.namespace) == "hello"

    # ... and the stream (as team-a's token) shows web-a Synced, never team-b's app.
    def synced(events: list[dict[str, Any]]) -> bool:
        return any(
            e["application"]["name"] == "web-a" and e["application"]["sync"] == "Synced"
            for e in events
        )

    await wait_for(lambda: _now(seen), synced, what="web-a Synced on the stream", timeout=30)
    assert {e["application"]["name"] for e in seen} == {"web-a"}

    # 2. A new commit, synced from the CLI through the server with the project token.
    bye = world.repo.commit(
        "say bye",
        {"app/config.yaml": MANIFESTS["app/config.yaml"].format(name="greeting", value="bye")},
    )
    await _seen_by_controller(alice, api.app_path("web-a"), bye)
    done = await asyncio.to_thread(_cli, served, token, api.namespace, "sync", "web-a")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Succeeded" in done.stdout + done.stderr
    assert await _greeting(kube, api.namespace) == "bye"
    listed = await asyncio.to_thread(_cli, served, token, api.namespace, "list", "-o", "json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert [a["name"] for a in json.loads(listed.stdout)] == ["web-a"], listed.stderr
    shown = await asyncio.to_thread(
        _cli, served, token, api.namespace, "history", "web-a", "-o", "json"
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    entries = json.loads(shown.stdout)
    assert len(entries) == 2, shown.stderr

    diffed = await asyncio.to_thread(_cli, served, token, api.namespace, "diff", "web-a")
    assert diffed.returncode == 0, diffed.stdout + diffed.stderr  # 0: nothing to change
    got = await asyncio.to_thread(_cli, served, token, api.namespace, "get", "web-a", "-o", "json")
    assert json.loads(got.stdout)["status"]["sync"]["status"] == "Synced", got.stderr
    shown = await asyncio.to_thread(_cli, served, token, api.namespace, "manifests", "web-a")
    assert "greeting: bye" in shown.stdout, shown.stderr
    denied = await asyncio.to_thread(_cli, served, token, api.namespace, "delete", "web-a")
    assert denied.returncode == 1 and "may not delete" in denied.stdout + denied.stderr
    waited = await asyncio.to_thread(_cli, served, token, api.namespace, "wait", "web-a")
    assert waited.returncode == 1 and "direct connection" in waited.stdout + waited.stderr
    refused = await asyncio.to_thread(_cli, served, "not-a-token", api.namespace, "list")
    assert refused.returncode == 1 and "Invalid token" in refused.stdout + refused.stderr

    # 3. alice rolls back to the first deployment.
    reply = await alice.post(
        api.app_path("web-a", "/rollback?wait=true&timeout=60"), json={"id": entries[0]["id"]}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["state"]["phase"] == "Succeeded"
    assert await _greeting(kube, api.namespace) == "hello"

    # 4. admin deletes the app; the controller removes what it deployed first.
    reply = await world.admin.delete(api.app_path("web-a"))
    assert reply.status_code == 204, reply.text
    await wait_for(
        lambda: _greeting(kube, api.namespace), lambda v: v is None, what="greeting deleted"
    )
    await wait_for(
        lambda: kube.get_or_none("tether.dev/v1alpha1", "Application", "web-a", api.namespace),
        lambda app: app is None,
        what="web-a gone",
    )
    await _deleted_soon(seen)

    # 5. Each action once, with who did it and from where.
    syncs = await _audit(api, "app.sync")
    assert sorted((e["actor"]["name"], e["sourceIP"], e["result"]) for e in syncs) == [
        ("alice", CLIENT_ADDRESS[0], "succeeded"),
        ("proj:team-a:ci", "127.0.0.1", "succeeded"),
    ]
    (rollback,) = await _audit(api, "app.rollback")
    assert (rollback["actor"]["name"], rollback["object"]) == ("alice", "team-a/web-a")
    assert rollback["parameters"]["id"] == entries[0]["id"]
    deletes = sorted(await _audit(api, "app.delete"), key=lambda e: str(e["result"]))
    assert [(e["actor"]["name"], e["result"], e["parameters"]) for e in deletes] == [
        ("proj:team-a:ci", "denied", {"cascade": True}),  # the CLI's attempt with the token
        ("admin", "succeeded", {"cascade": True}),
    ]
    logins = [e["actor"]["name"] for e in await _audit(api, "login")]
    assert sorted(logins) == ["admin", "alice", "bob", "rita"]

    # The export says the same, as JSON lines, to whoever may read the audit trail.
    export = await world.admin.get("/api/v1/audit/export", params={"action": "app.*"})
    assert export.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert [e["action"] for e in lines].count("app.sync") == 2
    assert token not in export.text and base64.b64encode(token.encode()).decode() not in export.text


async def _seen_by_controller(http: httpx.AsyncClient, path: str, sha: str) -> None:
    """A sync right after a push may run at the revision the controller last polled; wait until
    it has compared against the new commit (the sync itself then resolves it)."""

    async def revision() -> str:
        return str(((await http.get(path)).json()["status"].get("sync") or {}).get("revision"))

    await wait_for(revision, lambda r: sha in r, what=f"the controller comparing at {sha[:8]}")


async def _now(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(seen)


async def _deleted_soon(seen: list[dict[str, Any]]) -> bool:
    await wait_for(
        lambda: _now(seen),
        lambda events: any(
            e["type"] == "DELETED" and e["application"]["name"] == "web-a" for e in events
        ),
        what="web-a DELETED on the stream",
    )
    return True


async def test_sync_options_reach_the_controller(
    world: World, start_controller: StartController, kube: KubeClient
) -> None:
    """dryRun writes nothing; a resources subset writes only those; prune removes what left Git;
    `revision` deploys another commit than the spec's."""
    api, alice = world.api, world.users["team-a"]
    config = MANIFESTS["app/config.yaml"]
    first = world.repo.commit(
        "two maps",
        {
            "app/config.yaml": config.format(name="greeting", value="one"),
            "app/other.yaml": config.format(name="other", value="x"),
        },
    )
    start_controller()
    sync = api.app_path("web-a", "/sync?wait=true&timeout=60")

    async def synced(body: dict[str, Any]) -> dict[str, Any]:
        reply = await alice.post(sync, json=body)
        assert reply.status_code == 200, reply.text
        state: dict[str, Any] = reply.json()["state"]
        assert state["phase"] == "Succeeded", state
        return state

    await synced({"dryRun": True})
    assert await _greeting(kube, api.namespace) is None
    subset = {"kind": "ConfigMap", "name": "other", "namespace": api.namespace}
    await synced({"resources": [subset]})
    assert await _greeting(kube, api.namespace) is None
    assert await kube.get_or_none("v1", "ConfigMap", "other", api.namespace) is not None

    second = world.repo.commit(
        "one map",
        {"app/config.yaml": config.format(name="greeting", value="two")},
        remove=("app/other.yaml",),
    )
    await _seen_by_controller(alice, api.app_path("web-a"), second)
    await synced({"prune": True})
    assert await _greeting(kube, api.namespace) == "two"
    assert await kube.get_or_none("v1", "ConfigMap", "other", api.namespace) is None

    await synced({"revision": first})
    assert await _greeting(kube, api.namespace) == "one"
