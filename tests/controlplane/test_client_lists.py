"""Listed objects are whole objects (the API server leaves apiVersion/kind to the list)."""

from __future__ import annotations

import pytest

from tether.cluster.client import KubeClient

pytestmark = pytest.mark.cluster


async def test_listed_items_carry_api_version_and_kind(kube: KubeClient, namespace: str) -> None:
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": namespace},
        },
        field_manager="test",
    )
    listed = await kube.list("v1", "ConfigMap", namespace)
    mine = [i for i in listed.items if i["metadata"]["name"] == "c"]
    assert mine and mine[0]["apiVersion"] == "v1" and mine[0]["kind"] == "ConfigMap"
