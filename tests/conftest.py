"""Shared fixtures: one real local control plane per test session, a fresh namespace per test.

The control plane is a tether dev instance (default name `pytest`, override with
TETHER_TEST_CLUSTER). It is reused when already running with the pinned Kubernetes version, so
repeated local runs start in seconds; `.ci/run` stops it at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.waiting import wait_for
from tether.cluster import config as cluster_config
from tether.cluster.client import KubeClient
from tether.devcluster import instance, tools
from tether.devcluster.layout import InstanceLayout

CLUSTER_NAME = os.environ.get("TETHER_TEST_CLUSTER", "pytest")
pytest_plugins = ["tests.support.apps_fixtures", "tests.support.fleet"]


@dataclass(frozen=True)
class Cluster:
    name: str
    kubeconfig: Path
    config: cluster_config.ClusterConfig


async def _running_version(kubeconfig: Path) -> str | None:
    try:
        async with KubeClient(cluster_config.from_kubeconfig(kubeconfig)) as client:
            return str((await client.request("GET", "/version")).get("gitVersion"))
    except Exception:
        return None


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def cluster() -> Cluster:
    layout = InstanceLayout.for_name(CLUSTER_NAME)
    wanted = tools.pinned_versions()["KUBERNETES_VERSION"]
    current = instance.status(layout)
    if current.state != "stopped" and await _running_version(layout.kubeconfig) != wanted:
        instance.down(CLUSTER_NAME)  # stale or half-up: restart with the pinned version
    result = await instance.up(
        instance.UpOptions(name=CLUSTER_NAME, nodes=3), lambda _msg: None, lambda *_: None
    )
    config = cluster_config.from_kubeconfig(result.kubeconfig)
    return Cluster(CLUSTER_NAME, result.kubeconfig, config)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kube(cluster: Cluster) -> AsyncIterator[KubeClient]:
    async with KubeClient(cluster.config) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(kube: KubeClient, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh namespace, ready for Pods (its default ServiceAccount exists), then deleted."""
    base = request.node.name.lower().replace("_", "-")
    slug = "".join(c for c in base if c.isalnum() or c == "-")[:40].strip("-")
    name = f"t-{slug}-{uuid.uuid4().hex[:5]}"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    await wait_for(
        lambda: kube.get_or_none("v1", "ServiceAccount", "default", name),
        lambda sa: sa is not None,
        what=f"default ServiceAccount in {name}",
    )
    yield name
    await kube.delete("v1", "Namespace", name)
