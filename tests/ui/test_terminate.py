"""Terminating an operation from the app's page: the button shows only to someone who may sync
and only while an operation runs; pressing it writes the terminate request (the executor hears it
at its next step boundary, tests/controller and tests/sync show that part)."""

from __future__ import annotations

import httpx
import pytest

from tests.ui.conftest import VIEWER_PASSWORD, UIServer, add_viewer, admin_password
from tests.ui.test_pages import _app, _login
from tether import crds
from tether.cluster.api import MERGE_PATCH
from tether.cluster.client import KubeClient

pytestmark = pytest.mark.cluster


def _running(state_id: str) -> dict[str, object]:
    return {
        "id": state_id,
        "phase": "Running",
        "message": "waiting for Sync wave 0: hook Job.batch/ns-1/migrate running",
        "startedAt": "2026-12-04T10:00:00Z",
        "revision": "HEAD@sha1:" + "a" * 40,
        "operation": {"sync": {}, "initiatedBy": {"username": "ann"}},
        "steps": {"group": "Sync/0", "status": "applied"},
        "resources": [],
    }


async def test_the_terminate_button_writes_the_request_for_those_who_may_sync(
    kube: KubeClient, namespace: str, ui_server: UIServer
) -> None:
    await add_viewer(kube, namespace)
    await kube.create(_app(namespace, 1))
    status = {"status": {"operationState": _running("op-1")}}
    await kube.patch(
        crds.API_VERSION,
        "Application",
        "app-0001",
        namespace,
        status,
        content_type=MERGE_PATCH,
        subresource="status",
    )
    page = f"/applications/{namespace}/app-0001"
    async with httpx.AsyncClient(base_url=ui_server.url, timeout=30) as viewer:
        await _login(viewer, "viewer", VIEWER_PASSWORD)
        assert 'id="terminate-form"' not in (await viewer.get(page)).text
    async with httpx.AsyncClient(base_url=ui_server.url, timeout=30) as client:
        csrf = await _login(client, "admin", await admin_password(kube, namespace))
        assert 'id="terminate-form"' in (await client.get(page)).text
        assert (await client.post(f"{page}/terminate")).status_code == 403  # no CSRF token
        reply = await client.post(
            f"{page}/terminate", headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
        )
        assert reply.status_code == 200 and "Terminating" in reply.text, reply.text
        app = await kube.get(crds.API_VERSION, "Application", "app-0001", namespace)
        state = app["status"]["operationState"]
        assert state["phase"] == "Terminating" and state["id"] == "op-1"
        assert state["message"] == "terminate requested by admin"
        audit = (await client.get("/audit", params={"action": "app.terminate"})).text
        assert audit.count('data-action="app.terminate"') == 1
