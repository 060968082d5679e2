"""The live-state cache of one destination cluster: what diff and health read instead of the API.

Resource types are watched on demand, the first time an app needs one (discovery gives the
preferred version). Objects carrying a tether tracking id are kept whole; every other object is
kept as a light entry (uid and owner references) — enough to know it exists and to draw
ownership trees without holding the bodies of every Pod and ReplicaSet. A change to a tracked
object is reported with the app that tracks it, so the app is requeued at once.
Noisy kinds (Events, Leases, EndpointSlices) are never watched; reads of them go to the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from tether.cluster.api import KubeAPI
from tether.controller.reflector import Key, Reflector
from tether.engine import tracking
from tether.engine.tracking import AppRef
from tether.model.resources import Body, ResourceKey, group_of
from tether.reconcile.compare import live_object

log = structlog.get_logger(__name__)

DEFAULT_EXCLUDED = frozenset({
    ("", "Event"), ("events.k8s.io", "Event"), ("coordination.k8s.io", "Lease"),
    ("discovery.k8s.io", "EndpointSlice"), ("", "Endpoints"),
})  # fmt: skip


@dataclass(frozen=True)
class Light:
    """What is kept of an object no app tracks."""

    uid: str
    owners: tuple[str, ...]  # owner uids
    resource_version: str


def _keep(obj: Body) -> Body | Light:
    if tracking.ANNOTATION in ((obj.get("metadata") or {}).get("annotations") or {}):
        return obj
    meta = obj.get("metadata") or {}
    owners = tuple(str(o.get("uid", "")) for o in meta.get("ownerReferences") or ())
    return Light(str(meta.get("uid", "")), owners, str(meta.get("resourceVersion", "")))


OnTrackedChange = Callable[[AppRef, ResourceKey], None]


class ClusterCache:
    """Watch-backed reads of one cluster; implements reconcile.compare.LiveState."""

    def __init__(
        self,
        name: str,
        client: KubeAPI,
        *,
        excluded: frozenset[tuple[str, str]] = DEFAULT_EXCLUDED,
        on_change: OnTrackedChange = lambda *_: None,
        sync_timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.client = client
        self.excluded = excluded
        self.on_change = on_change
        self.sync_timeout = sync_timeout
        self._kinds: dict[tuple[str, str], Reflector] = {}
        self._lock = asyncio.Lock()
        self.app_changes: dict[AppRef, int] = {}  # per app: how many tracked-object events so far

    # ---- reads -------------------------------------------------------------------------------

    async def get(self, key: ResourceKey, api_version: str) -> Body | None:
        reflector = await self._reflector(key.group, key.kind, api_version)
        if reflector is None:  # not cacheable: excluded kind, unknown kind or another version
            return await live_object(self.client, key, api_version)
        entry = reflector.store.get((key.namespace, key.name))
        if isinstance(entry, Light):  # exists, but untracked: its body is not kept
            return await live_object(self.client, key, api_version)
        return entry

    def observe(self, obj: Body) -> None:
        reflector = self._kinds.get(
            (group_of(str(obj.get("apiVersion", ""))), str(obj.get("kind", "")))
        )
        if reflector is not None and reflector.api_version == obj.get("apiVersion"):
            reflector.observe(obj)

    def objects(self) -> int:
        return sum(len(r.store) for r in self._kinds.values())

    def tracked(self) -> int:
        return sum(1 for r in self._kinds.values() for v in r.store.values() if isinstance(v, dict))

    def watched_kinds(self) -> list[str]:
        return sorted(
            f"{r.kind}.{group}" if group else r.kind for (group, _), r in self._kinds.items()
        )

    def children(self, owner_uid: str) -> list[tuple[str, str, Key]]:
        """(group, kind, key) of every cached object owned by `owner_uid` (for resource trees)."""
        found = []
        for (group, kind), reflector in self._kinds.items():
            for key, entry in reflector.store.items():
                owners = (
                    entry.owners
                    if isinstance(entry, Light)
                    else tuple(
                        str(o.get("uid"))
                        for o in (entry.get("metadata") or {}).get("ownerReferences") or ()
                    )
                )
                if owner_uid in owners:
                    found.append((group, kind, key))
        return found

    # ---- watches ---------------------------------------------------------------------------

    async def ensure(self, kinds: Iterable[tuple[str, str]]) -> None:
        """Start (and await the first list of) watches for these (apiVersion, kind) pairs."""
        await asyncio.gather(*(self._reflector(group_of(v), k, v) for v, k in kinds))

    async def _reflector(self, group: str, kind: str, api_version: str) -> Reflector | None:
        if (group, kind) in self.excluded:
            return None
        reflector = self._kinds.get((group, kind))
        if reflector is None:
            reflector = await self._start(group, kind)
            if reflector is None:
                return None
        if reflector.api_version != api_version:
            return None
        if not reflector.synced.is_set():
            await reflector.wait_synced(self.sync_timeout)
        return reflector

    async def _start(self, group: str, kind: str) -> Reflector | None:
        async with self._lock:
            if (group, kind) in self._kinds:
                return self._kinds[(group, kind)]
            preferred = (await self.client.resources()).preferred(group, kind)
            if preferred is None:
                preferred = (await self.client.resources(refresh=True)).preferred(group, kind)
            if preferred is None or "watch" not in preferred.verbs:
                return None
            reflector = Reflector(
                self.client,
                preferred.api_version,
                kind,
                keep=_keep,
                on_event=lambda key, old, new: self._changed(group, kind, key, old, new),
            )
            self._kinds[(group, kind)] = reflector
            reflector.start()
            log.info(
                "watching", cluster=self.name, kind=kind, group=group, version=preferred.version
            )
            return reflector

    def _changed(self, group: str, kind: str, key: Key, old: object, new: object) -> None:
        owners = {tracking.owner(o) for o in (old, new) if isinstance(o, dict)}
        for app in owners - {None}:
            assert app is not None
            self.app_changes[app] = self.app_changes.get(app, 0) + 1
            self.on_change(app, ResourceKey(group, kind, key[0], key[1]))

    async def aclose(self) -> None:
        await asyncio.gather(*(r.aclose() for r in self._kinds.values()))
        self._kinds.clear()


class Caches:
    """One ClusterCache per destination cluster, created on first use."""

    def __init__(
        self, on_change: OnTrackedChange, excluded: frozenset[tuple[str, str]] = DEFAULT_EXCLUDED
    ) -> None:
        self.on_change = on_change
        self.excluded = excluded
        self._clusters: dict[str, ClusterCache] = {}

    def for_cluster(self, name: str, client: KubeAPI) -> ClusterCache:
        cache = self._clusters.get(name)
        if cache is None or cache.client is not client:
            cache = ClusterCache(name, client, excluded=self.excluded, on_change=self.on_change)
            self._clusters[name] = cache
        return cache

    def all(self) -> dict[str, ClusterCache]:
        return dict(self._clusters)

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._clusters.values()))
