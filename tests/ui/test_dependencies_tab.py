"""The app page's Dependencies tab: what the app depends on and what depends on it."""

from __future__ import annotations

import httpx
import pytest

from tests.ui.conftest import UIServer, admin_password
from tests.ui.test_pages import _app, _login
from tether.cluster.client import KubeClient

pytestmark = pytest.mark.cluster


async def test_the_dependencies_tab_lists_both_directions(
    kube: KubeClient, namespace: str, ui_server: UIServer
) -> None:
    base, dependent = _app(namespace, 1), _app(namespace, 2)
    dependent["spec"]["dependsOn"] = [{"name": "app-0001"}]  # type: ignore[index]
    await kube.create(base)
    await kube.create(dependent)
    async with httpx.AsyncClient(base_url=ui_server.url, timeout=30) as client:
        await _login(client, "admin", await admin_password(kube, namespace))
        page = await client.get(f"/applications/{namespace}/app-0002")
        assert 'id="tab-dependencies"' in page.text
        tab = (await client.get(f"/applications/{namespace}/app-0002/dependencies")).text
        depends_on, needed_by = tab.split("Needed by")
        assert f"{namespace}/app-0001" in depends_on and "not Ready" in depends_on
        assert "No application depends on this one." in needed_by
        assert 'id="dependency-graph"' in depends_on
        assert f'data-app="{namespace}/app-0001"' in depends_on
        other = (await client.get(f"/applications/{namespace}/app-0001/dependencies")).text
        assert f"{namespace}/app-0002" in other.split("Needed by")[1]
