"""Splitting Applications between controller replicas, with Leases for mutual exclusion.

Two replicas must never reconcile the same app at once, and a dead replica's apps must move to
the others quickly. Apps are hashed into a fixed number of *buckets*; buckets are spread over the
live replicas by consistent hashing with bounded loads; and a replica works on an app only while
it holds that bucket's Lease. Assignment decides who *should* hold a bucket; the Lease, written
with optimistic concurrency, decides who *does*, so replicas that briefly disagree about
membership can only leave a bucket idle for a moment, never work it twice.

Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam 2017; Argo CD's
"consistent-hashing" sharding): members sit on a hash ring at many virtual points; a key goes to
the first member clockwise from its hash that has room, where room means fewer than
ceil(load_factor * keys / members) keys. Loads stay within load_factor of the mean, and a change
of membership moves about the keys it must (1/n of them when an n-th member joins), plus a few
that overflow onward.

Liveness never compares clocks across machines: like client-go's leader election, a Lease is
expired when *we* have not seen it change (its resourceVersion) for leaseDurationSeconds on our
own monotonic clock; and a holder stops working on a bucket well before that (two thirds of the
duration after its last successful renewal began). Wall-clock renewTime is written for humans and
used for one shortcut only: a member Lease whose renewTime is older than the duration plus
`max_clock_skew` is ignored at once, so a replica starting next to long-dead member Leases need not
wait a lease period before counting members. Membership only steers assignment, never safety.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import datetime as dt
import hashlib
import math
import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from tether.cluster import errors
from tether.cluster.client import Body, KubeClient
from tether.model.leases import (
    BUCKET_PREFIX,
    LEASE_API,
    LEASE_LABEL,
    MEMBER_PREFIX,
    NAMESPACES_ANNOTATION,
)

log = structlog.get_logger(__name__)

_IDENTITY = re.compile(r"[a-z0-9]([-a-z0-9.]{0,200}[a-z0-9])?")


# ---- the pure part: which member should own which key ------------------------------------------


def stable_hash(text: str) -> int:
    """A 64-bit hash that is the same in every process (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def bucket_of(key: str, buckets: int) -> int:
    """The bucket of an app key such as `namespace/name`."""
    return stable_hash(key) % buckets


@dataclass(frozen=True)
class _Ring:
    points: tuple[int, ...]  # sorted hashes of the virtual nodes
    owners: tuple[str, ...]  # owners[i] is the member at points[i]

    @classmethod
    def of(cls, members: Iterable[str], vnodes: int) -> _Ring:
        nodes = sorted((stable_hash(f"{m}#{i}"), m) for m in members for i in range(vnodes))
        return cls(tuple(h for h, _ in nodes), tuple(m for _, m in nodes))

    def walk(self, key_hash: int) -> Iterable[str]:
        """Members clockwise from `key_hash`, one per virtual node, once around the ring."""
        start = bisect.bisect_right(self.points, key_hash)
        for step in range(len(self.owners)):
            yield self.owners[(start + step) % len(self.owners)]


def assign(
    keys: Iterable[str], members: Iterable[str], *, load_factor: float = 1.25, vnodes: int = 64
) -> dict[str, str]:
    """Map each key to a member: deterministic, bounded loads, little movement on change.

    No member receives more than ceil(load_factor * len(keys) / len(members)) keys. The result
    depends only on the sets of keys and members, not their order. No members, no owners.
    """
    if load_factor < 1.0:
        raise ValueError(f"load_factor must be at least 1, not {load_factor}")
    ring = _Ring.of(sorted(set(members)), vnodes)
    ordered = sorted({(stable_hash(k), k) for k in keys})
    if not ring.owners:
        return {}
    capacity = math.ceil(load_factor * len(ordered) / len(set(ring.owners)))
    loads: dict[str, int] = {}
    owners: dict[str, str] = {}
    for key_hash, key in ordered:  # hash order: the same placements however keys were given
        member = next(m for m in ring.walk(key_hash) if loads.get(m, 0) < capacity)
        loads[member] = loads.get(member, 0) + 1
        owners[key] = member
    return owners


# ---- the runtime part: membership and bucket Leases --------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ShardingOptions:
    namespace: str  # where the Leases live
    identity: str  # this replica's id: unique, a DNS name (e.g. the pod name)
    replicas: int = 1  # 1: no sharding (only the member Lease); more: members share buckets
    app_namespaces: tuple[str, ...] = ()  # whose Applications it reconciles (told to others)
    buckets: int = 16
    lease_duration: int = 15  # seconds; renewals every third of it
    load_factor: float = 1.25
    vnodes: int = 64
    max_clock_skew: float = 5.0  # only for ignoring long-dead member Leases early

    def __post_init__(self) -> None:
        if not _IDENTITY.fullmatch(self.identity):  # it names a Lease
            raise ValueError(f"replica id {self.identity!r} is not a lowercase DNS name")
        if self.buckets < 1 or self.lease_duration < 1 or self.replicas < 1:
            raise ValueError("buckets, lease_duration and replicas must be at least 1")

    @property
    def renew_interval(self) -> float:
        return self.lease_duration / 3

    @property
    def hold_for(self) -> float:
        # A holder stops one renewal interval before others may take over: that margin covers
        # the time between an owns() check and the work, and clocks that run at slightly
        # different rates.
        return self.lease_duration * 2 / 3

    @property
    def member_lease(self) -> str:
        return MEMBER_PREFIX + self.identity


@dataclass(frozen=True)
class OwnershipChange:
    gained: frozenset[int]  # buckets whose apps this replica should now enqueue
    lost: frozenset[int]  # buckets whose apps it must stop working on


@dataclass(frozen=True)
class _Seen:
    version: str  # the Lease's resourceVersion
    since: float  # when we first saw that version, on our monotonic clock


class Sharding:
    """This replica's share of the apps, kept up to date through Leases; see the module doc.

    A bucket that assignment moves away stops `owns()` at once and is released one renewal
    later, so work already running on its apps has that long to end. `stop()` releases
    everything at once: stop the workers first.
    """

    def __init__(self, kube: KubeClient, options: ShardingOptions) -> None:
        self._kube = kube
        self._options = options
        self._held: dict[int, float] = {}  # bucket -> monotonic deadline of our claim
        self._seen: dict[str, _Seen] = {}
        self._published: frozenset[int] = frozenset()
        self._subscribers: list[asyncio.Queue[OwnershipChange | None]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def sharded(self) -> bool:
        return self._options.replicas > 1

    @property
    def identity(self) -> str:
        return self._options.identity

    def owns(self, key: str) -> bool:
        """Whether this replica may work on the app `key` right now."""
        if not self.sharded:
            return True
        deadline = self._held.get(bucket_of(key, self._options.buckets))
        return deadline is not None and time.monotonic() < deadline

    def owned_buckets(self) -> frozenset[int]:
        if not self.sharded:
            return frozenset(range(self._options.buckets))
        now = time.monotonic()
        return frozenset(b for b, deadline in self._held.items() if now < deadline)

    async def start(self) -> None:
        """Join: one round of Lease work now, then renewals in the background. Even a single
        replica holds its member Lease: it tells the CLI that a controller runs its apps."""
        await self._tick()
        self._task = asyncio.create_task(self._renew_forever(), name=f"sharding-{self.identity}")
        self._publish()

    async def stop(self, *, release: bool = True) -> None:
        """Leave. Without `release` (API server unreachable, or a simulated crash) the Leases
        are left to expire and the other replicas take over after one lease duration."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.sharded:
            self._held.clear()
            self._publish()
        if release:
            await self._release_all()
        self._stopped = True
        for subscriber in self._subscribers:
            subscriber.put_nowait(None)

    async def changes(self) -> AsyncIterator[OwnershipChange]:
        """Ownership changes, starting with what is owned now; ends when stopped."""
        if self._stopped:
            return
        inbox: asyncio.Queue[OwnershipChange | None] = asyncio.Queue()
        self._subscribers.append(inbox)
        try:
            if self._published:
                yield OwnershipChange(self._published, frozenset())
            while (change := await inbox.get()) is not None:
                yield change
        finally:
            self._subscribers.remove(inbox)

    def _publish(self) -> None:
        owned = self.owned_buckets()
        change = OwnershipChange(owned - self._published, self._published - owned)
        if not change.gained and not change.lost:
            return
        self._published = owned
        log.info(
            "buckets changed",
            replica=self.identity,
            gained=sorted(change.gained),
            lost=sorted(change.lost),
        )
        for subscriber in self._subscribers:
            subscriber.put_nowait(change)

    # ---- one round: read all Leases, then renew, claim or release ------------------------------

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._options.renew_interval)
            await self._tick()

    async def _tick(self) -> None:
        try:
            # The client retries an unreachable server for seconds; a round that outlives our
            # claims is worthless, and ending it lets the losses be published on time.
            async with asyncio.timeout(self._options.hold_for):
                await self._round()
        except Exception as exc:  # the API server may be away for a while: keep trying
            log.warning("sharding round failed", replica=self.identity, error=repr(exc))
        finally:
            self._publish()

    async def _round(self) -> None:
        leases = await self._list()
        self._observe(leases)
        renewal = self._renew_member(leases.get(self._options.member_lease))
        if not self.sharded:
            await renewal
            return
        wanted = self._wanted(leases)
        buckets = range(self._options.buckets)
        results = await asyncio.gather(
            renewal,
            *(self._tend(b, leases.get(f"{BUCKET_PREFIX}{b}"), b in wanted) for b in buckets),
            return_exceptions=True,
        )
        for failure in (r for r in results if isinstance(r, Exception)):
            log.warning("lease write failed", replica=self.identity, error=repr(failure))

    async def _list(self) -> dict[str, Body]:
        found = await self._kube.list(
            LEASE_API, "Lease", self._options.namespace, label_selector=LEASE_LABEL
        )
        return {lease["metadata"]["name"]: lease for lease in found.items}

    def _observe(self, leases: Mapping[str, Body]) -> None:
        now, seen = time.monotonic(), {}
        for name, lease in leases.items():
            version = str(lease["metadata"]["resourceVersion"])
            before = self._seen.get(name)
            seen[name] = before if before and before.version == version else _Seen(version, now)
        self._seen = seen

    def _expired(self, lease: Body) -> bool:
        spec = lease.get("spec") or {}
        if not spec.get("holderIdentity"):
            return True
        duration = float(spec.get("leaseDurationSeconds") or self._options.lease_duration)
        return time.monotonic() - self._seen[lease["metadata"]["name"]].since > duration

    def _long_dead(self, lease: Body) -> bool:
        spec = lease.get("spec") or {}
        renewed = _parse_time(spec.get("renewTime"))
        duration = float(spec.get("leaseDurationSeconds") or self._options.lease_duration)
        if renewed is None:
            return False
        return time.time() > renewed + duration + self._options.max_clock_skew

    def _live_members(self, leases: Mapping[str, Body]) -> set[str]:
        members = {self.identity}  # we are alive, whether or not our Lease was written yet
        for name, lease in leases.items():
            if name.startswith(MEMBER_PREFIX) and not (
                self._expired(lease) or self._long_dead(lease)
            ):
                members.add(str(_holder(lease)))
        return members

    def _wanted(self, leases: Mapping[str, Body]) -> set[int]:
        opts = self._options
        owners = assign(
            [str(b) for b in range(opts.buckets)],
            self._live_members(leases),
            load_factor=opts.load_factor,
            vnodes=opts.vnodes,
        )
        return {int(b) for b, member in owners.items() if member == self.identity}

    async def _renew_member(self, lease: Body | None) -> None:
        spec = _claimed_spec((lease or {}).get("spec") or {}, self.identity, self._options)
        body = self._lease_body(self._options.member_lease, "member", spec, lease)
        with contextlib.suppress(errors.Conflict):  # raced our own earlier write: re-read next
            await (self._kube.replace(body) if lease else self._kube.create(body))

    async def _tend(self, bucket: int, lease: Body | None, wanted: bool) -> None:
        mine = lease is not None and _holder(lease) == self.identity
        if wanted and (lease is None or mine or self._expired(lease)):
            await self._claim(bucket, lease)
        elif lease is not None and mine and not wanted and bucket not in self._held:
            await self._release(lease)
        else:
            # Not ours to have (yet), or ours to give up: stop now, release next round, so
            # work that is running on its apps gets one renewal interval to wind down.
            self._held.pop(bucket, None)

    async def _claim(self, bucket: int, lease: Body | None) -> None:
        started = time.monotonic()  # the claim holds from before the write, never after
        spec = _claimed_spec((lease or {}).get("spec") or {}, self.identity, self._options)
        body = self._lease_body(f"{BUCKET_PREFIX}{bucket}", "bucket", spec, lease)
        try:
            await (self._kube.replace(body) if lease else self._kube.create(body))
        except errors.Conflict:
            self._held.pop(bucket, None)  # someone else won: the next round re-reads
            return
        self._held[bucket] = started + self._options.hold_for

    async def _release(self, lease: Body) -> None:
        spec = {k: v for k, v in (lease.get("spec") or {}).items() if k != "holderIdentity"}
        body = self._lease_body(lease["metadata"]["name"], "bucket", spec, lease)
        with contextlib.suppress(errors.Conflict, errors.NotFound):  # taken over, or gone
            await self._kube.replace(body)

    async def _release_all(self) -> None:
        opts = self._options
        try:
            leases = await self._list()
            mine = [
                lease
                for name, lease in leases.items()
                if name.startswith(BUCKET_PREFIX) and _holder(lease) == self.identity
            ]
            await asyncio.gather(
                *(self._release(lease) for lease in mine),
                self._kube.delete(LEASE_API, "Lease", opts.member_lease, opts.namespace),
            )
        except Exception as exc:  # leaving must not fail: the Leases will expire instead
            log.warning("could not release leases", replica=self.identity, error=repr(exc))

    def _lease_body(self, name: str, role: str, spec: Body, current: Body | None) -> Body:
        metadata: Body = {
            "name": name,
            "namespace": self._options.namespace,
            "labels": {LEASE_LABEL: role},
        }
        if role == "member":
            metadata["annotations"] = {
                NAMESPACES_ANNOTATION: ",".join(sorted(self._options.app_namespaces))
            }
        if current is not None:  # optimistic concurrency: the write fails if it changed since
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
        return {"apiVersion": LEASE_API, "kind": "Lease", "metadata": metadata, "spec": spec}


def _claimed_spec(current: Mapping[str, Any], identity: str, options: ShardingOptions) -> Body:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # MicroTime
    spec = dict(current)
    if current.get("holderIdentity") != identity:
        spec["acquireTime"] = now
        spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0) + (
            1 if "acquireTime" in current else 0
        )
    spec.update(holderIdentity=identity, leaseDurationSeconds=options.lease_duration, renewTime=now)
    return spec


def _holder(lease: Body) -> str | None:
    holder = (lease.get("spec") or {}).get("holderIdentity")
    return str(holder) if holder else None


def _parse_time(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None
