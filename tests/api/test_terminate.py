"""`POST /api/v1/applications/{ns}/{name}/terminate`: with a real controller, a caller with
`sync` on the app stops its running operation (the controller ends it Failed, deleting the
running hook); callers without it are refused (403 if they may see the app, 404 if not), the
operation runs on, and every attempt is one audit entry with its result. With no controller, a
request not started yet is withdrawn."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import World
from tests.controller.conftest import StartController
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.audit import queries
from tether.cluster.client import KubeClient
from tether.engine.tracking import AppRef

pytestmark = pytest.mark.cluster

HOOK = "wait-forever"


async def _operation(http: httpx.AsyncClient, path: str) -> dict[str, Any]:
    reply = await http.get(path)
    assert reply.status_code == 200, reply.text
    return dict(reply.json()["status"].get("operationState") or {})


def _hook_running(state: dict[str, Any]) -> bool:
    return state.get("phase") == "Running" and any(
        r["name"] == HOOK and r.get("status") == "Running" for r in state.get("resources") or []
    )


async def test_terminate_through_the_api_is_authorized_and_audited(
    world: World, start_controller: StartController, kube: KubeClient
) -> None:
    """alice (sync on team-a) terminates web-a's hung sync; bob and rita cannot; all audited."""
    api, alice = world.api, world.users["team-a"]
    path = api.app_path("web-a")
    world.repo.commit(
        "a hook that never ends",
        {"app/hook.yaml": m.dump(m.job(HOOK, "Sync", suspend=True))},
    )
    start_controller()
    reply = await alice.post(api.app_path("web-a", "/sync"), json={})
    assert reply.status_code == 202, reply.text
    running = await wait_for(
        lambda: _operation(alice, path), _hook_running, what="web-a running its hook"
    )

    # bob (team-b) may not even see web-a; rita (read-only) may see it but not sync it.
    hidden = await world.users["team-b"].post(api.app_path("web-a", "/terminate"))
    refused = await world.users["readonly"].post(api.app_path("web-a", "/terminate"))
    assert hidden.status_code == 404, hidden.text
    assert refused.status_code == 403, refused.text
    assert (await _operation(alice, path))["phase"] == "Running", "a refused terminate landed"

    reply = await alice.post(api.app_path("web-a", "/terminate"))

    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "application": "web-a",
        "detail": f"operation {running['id'][:8]} of web-a stops at its next step boundary",
    }
    ended = await wait_for(
        lambda: _operation(alice, path),
        lambda s: s.get("phase") not in ("Running", "Terminating"),
        what="the controller ending the terminated operation",
    )
    assert ended["id"] == running["id"]
    assert (ended["phase"], ended["message"]) == (
        "Failed",
        "operation terminated (terminate requested by alice)",
    ), ended
    await wait_for(
        lambda: kube.get_or_none("batch/v1", "Job", HOOK, api.namespace),
        lambda job: job is None,
        what="the running hook deleted",
    )
    assert api.services.audit is not None
    page = api.services.audit.query(queries.Filter(action="app.terminate"), 100, None)
    attempts = sorted((e.actor.name, str(e.result), e.object) for e in page.entries)
    assert attempts == [
        ("alice", "succeeded", "team-a/web-a"),
        ("bob", "denied", "team-a/web-a"),
        ("rita", "denied", "team-a/web-a"),
    ], attempts


async def test_terminate_withdraws_a_request_no_controller_started(world: World) -> None:
    """With no controller running, a sync request waits in `.operation`; a terminate by someone
    who may not sync leaves it, one by alice withdraws it (200, and nothing runs later)."""
    api, alice = world.api, world.users["team-a"]
    reply = await alice.post(api.app_path("web-a", "/sync"), json={})
    assert reply.status_code == 202, reply.text
    rt = api.services.runtime

    refused = await world.users["readonly"].post(api.app_path("web-a", "/terminate"))

    assert refused.status_code == 403, refused.text
    assert (await rt.store.get(AppRef(api.namespace, "web-a"))).operation is not None

    reply = await alice.post(api.app_path("web-a", "/terminate"))

    assert reply.status_code == 200, reply.text
    assert reply.json()["detail"] == (
        "the operation requested for web-a was withdrawn before it started"
    )
    app = await rt.store.get(AppRef(api.namespace, "web-a"))
    assert app.operation is None and app.operation_state is None, app.status
