"""CRDs become Established; custom objects can be created and watched."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.support.waiting import condition, wait_for
from tether.cluster.client import KubeClient, WatchEvent

pytestmark = pytest.mark.cluster


def crd(group: str) -> dict[str, object]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


async def test_crd_established_and_custom_objects_watched(kube: KubeClient, namespace: str) -> None:
    group = f"g{uuid.uuid4().hex[:8]}.test.tether.dev"
    await kube.apply(crd(group), field_manager="test")
    try:
        await wait_for(
            lambda: kube.get(
                "apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}"
            ),
            lambda c: condition(c, "Established") == "True",
            what="CRD Established",
        )
        api_version = f"{group}/v1"
        listed = await wait_for(
            lambda: kube.list(api_version, "Widget", namespace),
            lambda _: True,
            what="Widget resource served",
        )
        seen: list[WatchEvent] = []

        async def watch() -> None:
            async for event in kube.watch(
                api_version, "Widget", namespace, resource_version=listed.resource_version
            ):
                if event.type != "BOOKMARK":
                    seen.append(event)
                    return

        watcher = asyncio.create_task(watch())
        widget = {
            "apiVersion": api_version,
            "kind": "Widget",
            "metadata": {"name": "w1", "namespace": namespace},
            "spec": {"size": 3},
        }
        await kube.create(widget)
        await asyncio.wait_for(watcher, 15)
        assert seen[0].type == "ADDED"
        assert seen[0].object["spec"] == {"size": 3}
    finally:
        await kube.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}")
