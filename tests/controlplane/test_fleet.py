"""The fleet fixture: two more real control planes, registered as clusters of the test's tether."""

from __future__ import annotations

import pytest

from tests.support.fleet import Member
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


async def test_the_fleets_clusters_are_separate_and_reachable(
    rt: Runtime, registered: list[Member]
) -> None:
    names = await rt.clusters.names()
    assert names == ["in-cluster", "east", "west"]
    servers = {rt.kube.config.server}
    for member in registered:
        client = await rt.clusters.client(member.name)
        assert (await client.server_version())["gitVersion"].startswith("v1.")
        servers.add(client.config.server)
    assert len(servers) == 3  # three API servers, not one reached three times
