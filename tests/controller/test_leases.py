"""Sharding through real Leases: every bucket has one holder, and handovers never overlap.

Several `Sharding` replicas run in this process against the real API server with 3-second
Leases. A monitor samples, every few milliseconds, which replicas believe they own each bucket
and what the Lease objects say, and records any moment where two replicas could work the same
apps. A replica is cut off from the API server through our own client seam, never by faking
HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from tether.cluster import errors
from tether.cluster.client import Body, KubeClient
from tether.controller import sharding
from tether.controller.sharding import Sharding, ShardingOptions
from tether.model import leases

pytestmark = pytest.mark.cluster

LEASE = 3  # seconds; renewals every second
BUCKETS = 16


class Partitionable(KubeClient):
    """A client that can be cut off from the API server, as a network partition would."""

    cut = False

    async def request(self, method: str, path: str, **kwargs: Any) -> Body:
        if self.cut:
            raise errors.ServerError(503, "Unreachable", "partitioned by the test")
        return await super().request(method, path, **kwargs)


def options(namespace: str, identity: str, replicas: int = 3) -> ShardingOptions:
    return ShardingOptions(
        namespace=namespace, identity=identity, replicas=replicas, lease_duration=LEASE
    )


def owners(replicas: Sequence[Sharding]) -> dict[int, list[str]]:
    """Who believes it owns each bucket, right now (no await: one consistent instant)."""
    claims: dict[int, list[str]] = {b: [] for b in range(BUCKETS)}
    for replica in replicas:
        for bucket in replica.owned_buckets():
            claims[bucket].append(replica.identity)
    return claims


def settled(replicas: Sequence[Sharding]) -> bool:
    """Each bucket is owned by exactly the replica that assignment gives it to."""
    wanted = sharding.assign([str(b) for b in range(BUCKETS)], [r.identity for r in replicas])
    return owners(replicas) == {int(b): [member] for b, member in wanted.items()}


async def holders(kube: KubeClient, namespace: str) -> dict[int, str | None]:
    found = await kube.list(sharding.LEASE_API, "Lease", namespace)
    return {
        int(lease["metadata"]["name"].removeprefix(sharding.BUCKET_PREFIX)): lease["spec"].get(
            "holderIdentity"
        )
        for lease in found.items
        if lease["metadata"]["name"].startswith(sharding.BUCKET_PREFIX)
    }


class Monitor:
    """Samples ownership continuously and keeps every violation of mutual exclusion."""

    def __init__(self, kube: KubeClient, namespace: str, replicas: Sequence[Sharding]) -> None:
        self.kube, self.namespace, self.replicas = kube, namespace, replicas
        self.violations: list[str] = []
        self.samples = 0

    async def run(self) -> None:
        while True:
            before = owners(self.replicas)
            leases = await holders(self.kube, self.namespace)
            after = owners(self.replicas)
            self.check(before, leases, after)
            self.samples += 1
            await asyncio.sleep(0.01)

    def check(
        self,
        before: Mapping[int, list[str]],
        leases: Mapping[int, str | None],
        after: Mapping[int, list[str]],
    ) -> None:
        for bucket in range(BUCKETS):
            if len(before[bucket]) > 1:
                self.violations.append(f"bucket {bucket} claimed by {before[bucket]}")
            # Claimed by the same replica on both sides of the read: the Lease must name it.
            steady = set(before[bucket]) & set(after[bucket])
            if steady and leases.get(bucket) not in steady:
                self.violations.append(
                    f"bucket {bucket} claimed by {steady} but its Lease names {leases.get(bucket)}"
                )


@asynccontextmanager
async def running(
    kube: KubeClient, replicas: Sequence[Sharding], namespace: str
) -> AsyncIterator[Monitor]:
    await asyncio.gather(*(r.start() for r in replicas))
    monitor = Monitor(kube, namespace, replicas)
    sampling = asyncio.create_task(monitor.run())
    try:
        yield monitor
    finally:
        sampling.cancel()
        await asyncio.gather(sampling, return_exceptions=True)
        await asyncio.gather(*(r.stop() for r in replicas))
    assert monitor.samples > 20
    assert monitor.violations == []


async def eventually(predicate: Callable[[], object], what: str, timeout: float) -> float:
    """Seconds until `predicate()` holds, failing after `timeout`."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_replicas_split_all_buckets_and_a_stopped_one_hands_over_within_a_lease(
    kube: KubeClient, namespace: str
) -> None:
    replicas = [Sharding(kube, options(namespace, f"replica-{i}")) for i in range(3)]
    async with running(kube, replicas, namespace):
        await eventually(lambda: settled(replicas), "the assigned three-way split", 10)
        assert await holders(kube, namespace) == {b: ids[0] for b, ids in owners(replicas).items()}
        app = "team-a/web"
        assert [r.owns(app) for r in replicas].count(True) == 1

        leaving, staying = replicas[0], replicas[1:]
        changes = staying[0].changes()
        assert (await anext(changes)).gained == staying[0].owned_buckets()  # the current state
        handed_over = leaving.owned_buckets()
        await leaving.stop()
        assert leaving.owned_buckets() == frozenset()

        took = await eventually(lambda: settled(staying), "the survivors own all", LEASE)
        assert took < LEASE
        gained = (await asyncio.wait_for(anext(changes), 1)).gained
        assert gained <= handed_over and gained
        assert set((await holders(kube, namespace)).values()) == {r.identity for r in staying}
        member_leases = await kube.list(sharding.LEASE_API, "Lease", namespace)
        assert sharding.MEMBER_PREFIX + leaving.identity not in {
            lease["metadata"]["name"] for lease in member_leases.items
        }
        await changes.aclose()


async def test_a_crashed_replica_keeps_its_buckets_only_until_its_leases_expire(
    kube: KubeClient, namespace: str
) -> None:
    replicas = [Sharding(kube, options(namespace, f"replica-{i}")) for i in range(3)]
    async with running(kube, replicas, namespace):
        await eventually(lambda: settled(replicas), "the assigned three-way split", 10)
        crashed, survivors = replicas[2], replicas[:2]
        orphaned = crashed.owned_buckets()

        await crashed.stop(release=False)  # renewals cancelled, nothing released
        leases = await holders(kube, namespace)
        assert {b for b, holder in leases.items() if holder == crashed.identity} == orphaned

        took = await eventually(lambda: settled(survivors), "the survivors own all", LEASE + 3)
        assert LEASE - 1.5 <= took <= LEASE + 2.5  # not before expiry, within a lease after it
        assert crashed.identity not in set((await holders(kube, namespace)).values())


async def test_a_partitioned_replica_stops_before_others_take_over_and_rejoins_cleanly(
    kube: KubeClient, namespace: str
) -> None:
    async with Partitionable(kube.config) as cut_off_client:
        cut_off = Sharding(cut_off_client, options(namespace, "replica-2"))
        replicas = [Sharding(kube, options(namespace, f"replica-{i}")) for i in range(2)]
        replicas.append(cut_off)
        async with running(kube, replicas, namespace):
            await eventually(lambda: settled(replicas), "the assigned three-way split", 10)
            assert cut_off.owned_buckets()

            cut_off_client.cut = True
            # It can no longer renew, so it gives its buckets up by itself (the monitor checks
            # that nobody else claimed them before)...
            await eventually(lambda: not cut_off.owned_buckets(), "the cut-off gives up", LEASE)
            # ...and the others take them once its Leases expire.
            await eventually(lambda: settled(replicas[:2]), "the others own all", LEASE + 3)

            cut_off_client.cut = False
            await eventually(lambda: cut_off.owned_buckets(), "the healed one rejoins", 3 * LEASE)
            await eventually(lambda: settled(replicas), "the assigned split again", 3 * LEASE)


async def test_a_single_replica_owns_everything_and_holds_only_its_member_lease(
    kube: KubeClient, namespace: str
) -> None:
    alone = Sharding(kube, replace(options(namespace, "only", replicas=1), app_namespaces=("a",)))
    await alone.start()
    changes = alone.changes()

    assert alone.owns("team-a/web") and alone.owns("team-b/api")
    assert (await anext(changes)).gained == frozenset(range(BUCKETS))
    held = (await kube.list(sharding.LEASE_API, "Lease", namespace)).items
    # No bucket Leases; the member Lease tells the CLI a controller runs namespace a's apps.
    assert [lease["metadata"]["name"] for lease in held] == [sharding.MEMBER_PREFIX + "only"]
    assert leases.controller_for(held, "a", dt.datetime.now(dt.UTC)) == "only"
    assert leases.controller_for(held, "b", dt.datetime.now(dt.UTC)) is None
    await alone.stop()
    assert [change async for change in changes] == []
    assert (await kube.list(sharding.LEASE_API, "Lease", namespace)).items == []  # released
