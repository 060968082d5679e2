"""The UI over plain HTTP against the real server and control plane: who gets in, what every
page carries, what a state change needs, and a list of a thousand apps."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.ui.conftest import VIEWER_PASSWORD, UIServer, add_viewer, admin_password
from tether import crds
from tether.cluster.client import KubeClient

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]
APPS = 1000
DASH = "\u2013"  # the list says "1\u201350 of 1000"


async def _login(client: httpx.AsyncClient, user: str, password: str) -> str:
    """Log in through the form; the session's CSRF token (from the page's hx-headers)."""
    form = (await client.get("/login")).text
    token = re.search(r'name="login_token" value="([^"]+)"', form)
    assert token is not None
    reply = await client.post(
        "/login",
        data={"username": user, "password": password, "next": "/", "login_token": token[1]},
    )
    assert reply.status_code == 303, reply.text
    page = (await client.get("/")).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    return csrf[1]


def _app(namespace: str, index: int) -> dict[str, object]:
    return {
        "apiVersion": crds.API_VERSION,
        "kind": "Application",
        "metadata": {
            "name": f"app-{index:04d}",
            "namespace": namespace,
            "labels": {"team": f"t{index % 4}"},
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": f"https://git.example/{index}.git", "path": "deploy"},
            "destination": {"namespace": f"ns-{index % 10}"},
        },
    }


async def _create_apps(kube: KubeClient, namespace: str) -> None:
    limit = asyncio.Semaphore(32)

    async def one(index: int) -> None:
        async with limit:
            await kube.create(_app(namespace, index))

    await asyncio.gather(*(one(i) for i in range(APPS)))


async def _until(lines: AsyncIterator[str], wanted: str, timeout: float = 20) -> str:
    """Read SSE lines until one contains `wanted`; everything read so far."""
    seen: list[str] = []

    async def read() -> str:
        async for line in lines:
            seen.append(line)
            if wanted in line:
                return "\n".join(seen)
        raise AssertionError(f"stream ended before {wanted!r}: {seen[-5:]}")

    return await asyncio.wait_for(read(), timeout)


async def test_access_headers_csrf_and_a_thousand_apps(
    kube: KubeClient, namespace: str, ui_server: UIServer
) -> None:
    await add_viewer(kube, namespace)
    await _create_apps(kube, namespace)
    password = await admin_password(kube, namespace)
    async with httpx.AsyncClient(base_url=ui_server.url, timeout=30) as client:
        # Anonymous: the login page, for a page and for an htmx request.
        reply = await client.get("/", follow_redirects=False)
        assert reply.status_code == 303 and reply.headers["location"] == "/login?next=%2F"
        reply = await client.get(
            f"/applications/{namespace}/app-0001/tree", headers={"HX-Request": "true"}
        )
        assert reply.status_code == 401 and reply.headers["HX-Redirect"].startswith("/login")
        # A login form posted without its token (login CSRF) is refused.
        reply = await client.post("/login", data={"username": "admin", "password": password})
        assert reply.status_code == 400 and "session" not in reply.headers.get("set-cookie", "")

        csrf = await _login(client, "admin", password)
        page = await client.get("/")
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert re.findall(r"<script(?![^>]*\bsrc=)", page.text) == []  # no inline script

        # A sync without the CSRF token changes nothing.
        sync = f"/applications/{namespace}/app-0001/sync"
        assert (await client.post(sync, data={"prune": "false"})).status_code == 403
        app = await kube.get(crds.API_VERSION, "Application", "app-0001", namespace)
        assert "operation" not in app
        reply = await client.post(sync, headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
        assert reply.status_code == 200 and 'id="operation"' in reply.text
        app = await kube.get(crds.API_VERSION, "Application", "app-0001", namespace)
        assert app["operation"]["initiatedBy"] == {"username": "admin"}

        # The dialog's options: dry run and chosen resources; a bad selector is explained.
        chosen = {"dry_run": "true", "resource": ["apps:Deployment:ns-3/web", ":ConfigMap:c"]}
        sync3 = f"/applications/{namespace}/app-0003/sync"
        reply = await client.post(sync3, data=chosen, headers={"X-CSRF-Token": csrf})
        assert reply.status_code == 200
        requested = (await kube.get(crds.API_VERSION, "Application", "app-0003", namespace))[
            "operation"
        ]["sync"]
        assert requested["dryRun"] is True and len(requested["resources"]) == 2
        bad = await client.post(
            f"/applications/{namespace}/app-0004/sync",
            data={"resource": "no-colons"},
            headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
        )
        assert bad.status_code == 400 and bad.headers["HX-Retarget"] == "#flash"
        assert "no-colons" in bad.text

        # Clusters, projects and the audit trail's filters.
        assert 'id="cluster-in-cluster"' in (await client.get("/clusters")).text
        assert (await client.get("/projects")).status_code == 200
        audit = (await client.get("/audit", params={"action": "app.sync"})).text
        assert audit.count('data-action="app.sync"') == 3 and 'data-action="login"' not in audit
        failed = (await client.get("/audit", params={"result": "failed"})).text
        assert failed.count('<tr class="entry') == 1 and "no-colons" in failed

        # A read-only user may look but not sync, CSRF token or not.
        async with httpx.AsyncClient(base_url=ui_server.url, timeout=30) as other:
            token = await _login(other, "viewer", VIEWER_PASSWORD)
            app_page = await other.get(f"/applications/{namespace}/app-0002")
            assert app_page.status_code == 200 and 'id="sync-open"' not in app_page.text
            denied = await other.post(
                f"/applications/{namespace}/app-0002/sync", headers={"X-CSRF-Token": token}
            )
            assert denied.status_code == 403
            assert "operation" not in await kube.get(
                crds.API_VERSION, "Application", "app-0002", namespace
            )

        # A thousand apps: numbered pages, filters and search answered quickly.
        started = time.monotonic()
        first = await client.get("/")
        assert f"1{DASH}50 of {APPS} applications" in first.text, first.text[-2000:]
        last = await client.get(
            "/", params={"page": 20}, headers={"HX-Request": "true", "HX-Target": "apps"}
        )
        assert f"951{DASH}1000 of 1000" in last.text and "<html" not in last.text
        assert 'id="app-app-0999"' in last.text and 'id="app-app-0000"' not in last.text
        found = await client.get("/", params={"search": "app-077", "selector": "team=t1"})
        assert f"1{DASH}2 of 2 applications" in found.text  # app-0773 and app-0777
        narrowed = await client.get("/", params={"namespace": "ns-3", "health": "Unknown"})
        assert f"1{DASH}50 of 100 applications" in narrowed.text
        grid = await client.get("/", params={"view": "grid", "page": 2})
        assert '<article id="app-app-0050"' in grid.text and "view=grid" in grid.text
        assert time.monotonic() - started < 2.0  # about 0.6 s on 2 cores

        # The app page's stream: its panels at once, then news of its deletion.
        async with client.stream("GET", f"/ui/stream/applications/{namespace}/app-0005") as live:
            lines = live.aiter_lines()
            assert "<h1>app-0005</h1>" in await _until(lines, "<h1>app-0005")
            await kube.delete(crds.API_VERSION, "Application", "app-0005", namespace)
            await _until(lines, "This application is gone")
