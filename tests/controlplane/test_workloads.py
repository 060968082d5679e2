"""Pods really get scheduled and Deployments really become Available on kwok nodes."""

from __future__ import annotations

import pytest

from tests.support.waiting import condition, wait_for
from tether.cluster.client import KubeClient

pytestmark = pytest.mark.cluster


def deployment(name: str, namespace: str, replicas: int) -> dict[str, object]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]},
            },
        },
    }


async def test_deployment_becomes_available_with_scheduled_pods(
    kube: KubeClient, namespace: str
) -> None:
    await kube.apply(deployment("web", namespace, 3), field_manager="test")

    live = await wait_for(
        lambda: kube.get("apps/v1", "Deployment", "web", namespace),
        lambda d: condition(d, "Available") == "True" and d["status"].get("readyReplicas") == 3,
        what="Deployment web Available with 3 ready replicas",
        timeout=60,
    )
    assert live["status"]["readyReplicas"] == 3

    pods = (await kube.list("v1", "Pod", namespace, label_selector="app=web")).items
    assert len(pods) == 3
    assert all(p["spec"].get("nodeName", "").startswith("kwok-node-") for p in pods)
    assert all(p["status"]["phase"] == "Running" for p in pods)
