"""Server-side apply field ownership is enforced by the real API server."""

from __future__ import annotations

import pytest

from tether.cluster import errors
from tether.cluster.client import KubeClient

pytestmark = pytest.mark.cluster


def config_map(namespace: str, value: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "shared", "namespace": namespace},
        "data": {"key": value},
    }


async def test_conflicting_managers_get_409_unless_forced(kube: KubeClient, namespace: str) -> None:
    await kube.apply(config_map(namespace, "from-a"), field_manager="manager-a")

    with pytest.raises(errors.Conflict) as conflict:
        await kube.apply(config_map(namespace, "from-b"), field_manager="manager-b")
    assert "manager-a" in conflict.value.message

    forced = await kube.apply(
        config_map(namespace, "from-b"), field_manager="manager-b", force=True
    )
    assert forced["data"] == {"key": "from-b"}
    owners = {
        m["manager"]
        for m in forced["metadata"]["managedFields"]
        if "f:key" in str(m.get("fieldsV1"))
    }
    assert owners == {"manager-b"}
