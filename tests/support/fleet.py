"""More clusters for tests of a fleet: two extra real control planes beside the shared one.

`fleet` (session scope) starts `pytest-east` and `pytest-west`, ordinary `tether dev` instances
with one kwok node each, reused when already running with the pinned version (as the shared
one is; `.ci/run` stops them). `registered` (per test) writes them as cluster Secrets into the
test's namespace, where that test's tether looks for its clusters, so every test sees the
management cluster (`in-cluster`) plus `east` and `west`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio
import yaml

from tests.conftest import CLUSTER_NAME, _running_version
from tether.cluster import config as cluster_config
from tether.cluster import registry
from tether.cluster.client import KubeClient
from tether.devcluster import instance, tools
from tether.devcluster.layout import InstanceLayout

MEMBERS = ("east", "west")


@dataclass(frozen=True)
class Member:
    name: str  # as registered: east, west
    instance: str  # the tether dev instance: pytest-east, pytest-west
    kubeconfig: Path
    config: cluster_config.ClusterConfig


async def _start(name: str) -> Member:
    instance_name = f"{CLUSTER_NAME}-{name}"
    layout = InstanceLayout.for_name(instance_name)
    wanted = tools.pinned_versions()["KUBERNETES_VERSION"]
    if instance.status(layout).state != "stopped" and (
        await _running_version(layout.kubeconfig) != wanted
    ):
        instance.down(instance_name)
    result = await instance.up(
        instance.UpOptions(name=instance_name, nodes=1), lambda _m: None, lambda *_: None
    )
    config = cluster_config.from_kubeconfig(result.kubeconfig)
    return Member(name, instance_name, result.kubeconfig, config)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fleet() -> list[Member]:
    """The extra clusters, started one after the other (two API servers starting at once on
    two cores only slow each other down)."""
    return [await _start(name) for name in MEMBERS]


@pytest_asyncio.fixture(loop_scope="session")
async def registered(kube: KubeClient, namespace: str, fleet: list[Member]) -> list[Member]:
    """The fleet's clusters registered with the test's tether (cluster Secrets)."""

    async def one(member: Member) -> None:
        config = yaml.safe_load(member.kubeconfig.read_text())
        secret = registry.secret_for(member.name, config, namespace)
        await kube.apply(secret, field_manager="test", force=True)

    await asyncio.gather(*(one(m) for m in fleet))
    return fleet
