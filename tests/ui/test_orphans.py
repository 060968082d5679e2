"""The app page over plain HTTP shows the orphaned resources its project warns of: their own
section with their count, the objects, the warning in plain words, and the same section in the
live stream; the API's application detail carries them; an app without orphans shows an empty
section (the stream's target)."""

from __future__ import annotations

import httpx
import pytest

from tests.support import crds as crds_support
from tests.ui.conftest import UIServer, admin_password
from tests.ui.test_pages import _login, _until
from tether import crds
from tether.cluster.client import KubeClient

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

ORPHANS = [
    {"group": "", "version": "v1", "kind": "ConfigMap", "namespace": "shop", "name": "debug"},
    {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "shop", "name": "tb"},
]
MESSAGE = "2 orphaned resource(s) in namespace shop: ConfigMap/shop/debug, Deployment.apps/shop/tb"


async def _app(kube: KubeClient, namespace: str, name: str, orphaned: bool) -> None:
    body = {
        "apiVersion": crds.API_VERSION,
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/shop.git", "path": "deploy"},
            "destination": {"namespace": "shop"},
        },
    }
    await kube.create(body)
    if not orphaned:
        return
    warning = {
        "type": "OrphanedResourceWarning",
        "status": "True",
        "reason": "OrphanedResources",
        "message": MESSAGE,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    status = {"orphanedResources": ORPHANS, "conditions": [warning]}
    await kube.patch(
        crds.API_VERSION, "Application", name, namespace, {"status": status}, subresource="status"
    )


async def test_the_app_page_shows_its_orphans(
    kube: KubeClient, namespace: str, ui_server: UIServer
) -> None:
    await crds_support.ensure_status_field(kube, "orphanedResources")
    await _app(kube, namespace, "shop", orphaned=True)
    await _app(kube, namespace, "tidy", orphaned=False)
    password = await admin_password(kube, namespace)
    async with httpx.AsyncClient(base_url=ui_server.url, timeout=30) as client:
        await _login(client, "admin", password)

        page = (await client.get(f"/applications/{namespace}/shop")).text
        section = page[page.index('<section id="orphaned"') :]
        section = section[: section.index("</section>")]
        assert "Orphaned resources" in section
        assert '<span class="count" id="orphaned-count">2</span>' in section
        assert section.count('<tr class="orphan">') == 2
        assert "<td>ConfigMap</td><td>core/v1</td><td>shop/debug</td>" in section
        assert "<td>Deployment</td><td>apps/v1</td><td>shop/tb</td>" in section
        assert f"Orphaned resource warning. Orphaned resources: {MESSAGE}" in page  # a note

        tidy = (await client.get(f"/applications/{namespace}/tidy")).text
        assert '<section id="orphaned" class="orphaned">' in tidy
        assert "Orphaned resources" not in tidy

        # The API's application detail carries them as the status has them.
        detail = await client.get(f"/api/v1/applications/{namespace}/shop")
        assert detail.status_code == 200, detail.text
        assert detail.json()["status"]["orphanedResources"] == ORPHANS

        async with client.stream("GET", f"/ui/stream/applications/{namespace}/shop") as live:
            frames = await _until(live.aiter_lines(), 'id="orphaned-count">2<')
            assert 'data: <section id="orphaned"' in frames
