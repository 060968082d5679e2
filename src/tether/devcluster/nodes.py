"""Fake nodes served by kwok, so the real scheduler places Pods and they become Ready.

Nodes are ordinary v1 Node objects annotated for kwok to manage; kwok then plays their kubelet
(heartbeats, Pod status). They are not tainted, so test workloads need no tolerations.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tether.cluster.client import KubeClient
from tether.devcluster.errors import DevClusterError

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
FIELD_MANAGER = "tether-dev"


def node_name(index: int) -> str:
    return f"kwok-node-{index}"


def manifest(index: int) -> dict[str, Any]:
    name = node_name(index)
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/agent": "",
            },
        },
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def _is_ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def ensure(client: KubeClient, count: int) -> None:
    await asyncio.gather(
        *(client.apply(manifest(i), field_manager=FIELD_MANAGER, force=True) for i in range(count))
    )


async def wait_ready(client: KubeClient, count: int, timeout: float = 60.0) -> None:
    wanted = {node_name(i) for i in range(count)}
    deadline = time.monotonic() + timeout
    while True:
        nodes = (await client.list("v1", "Node", label_selector="type=kwok")).items
        ready = {n["metadata"]["name"] for n in nodes if _is_ready(n)}
        if wanted <= ready:
            return
        if time.monotonic() > deadline:
            raise DevClusterError(
                f"kwok nodes not Ready after {timeout:.0f}s: {sorted(wanted - ready)}",
                "check logs/kwok.log in the instance directory",
            )
        await asyncio.sleep(0.2)
