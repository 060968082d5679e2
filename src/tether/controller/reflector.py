"""List, then watch, one resource type: the loop every cache in the controller is built on.

A reflector keeps going until closed: it lists (all pages), watches from the list's
resourceVersion with bookmarks on, resumes from the last version it saw when a watch ends, and
lists again when the server says that version is gone (410). Each object change reaches a
callback with the old and the new body, relists included, so a cache never misses one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from tether.cluster import errors
from tether.cluster.api import KubeAPI
from tether.model.resources import Body

log = structlog.get_logger(__name__)
Key = tuple[str, str]  # (namespace, name)
OnEvent = Callable[[Key, Body | None, Body | None], None]  # key, old, new (None: deleted)
Store = dict[Key, Any]


def object_key(obj: Body) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def resource_version(obj: Body | None) -> int:
    """resourceVersions are opaque strings; etcd's are integers, which lets us order them."""
    text = str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "0")
    return int(text) if text.isdigit() else 0


class Reflector:
    """Mirrors one resource type into `store` through `keep(obj) -> value`."""

    def __init__(
        self,
        client: KubeAPI,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        keep: Callable[[Body], Any] = lambda obj: obj,
        on_event: OnEvent = lambda *_: None,
        watch_timeout: int = 300,
    ) -> None:
        self.client = client
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace
        self.keep = keep
        self.on_event = on_event
        self.watch_timeout = watch_timeout
        self.store: Store = {}
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.relists = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"reflector {self.kind}")

    async def wait_synced(self, timeout: float = 60.0) -> None:
        await asyncio.wait_for(self.synced.wait(), timeout)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            try:
                if not self.resource_version:
                    await self._list()
                await self._watch()
                backoff = 0.2
            except errors.Gone:
                self.resource_version = ""  # compacted away: start over from a fresh list
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "watch failed; retrying", kind=self.kind, error=str(exc), retry_in=backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _list(self) -> None:
        listed = await self.client.list(self.api_version, self.kind, self.namespace)
        fresh = {object_key(o): o for o in listed.items}
        for key in [k for k in self.store if k not in fresh]:
            self._set(key, None)
        for key, obj in fresh.items():
            self._set(key, obj)
        if self.synced.is_set():
            self.relists += 1
        self.resource_version = listed.resource_version
        self.synced.set()

    async def _watch(self) -> None:
        async for event in self.client.watch(
            self.api_version,
            self.kind,
            self.namespace,
            resource_version=self.resource_version,
            timeout_seconds=self.watch_timeout,
        ):
            version = event.object.get("metadata", {}).get("resourceVersion", "")
            if event.type == "DELETED":
                self._set(object_key(event.object), None)
            elif event.type != "BOOKMARK":
                self._update(event.object)
            if version:
                self.resource_version = version

    def _set(self, key: Key, obj: Body | None) -> None:
        old = self.store.get(key)
        if obj is None:
            self.store.pop(key, None)
        else:
            self.store[key] = self.keep(obj)
        self.on_event(key, old, self.store.get(key))

    def _update(self, obj: Body) -> None:
        """Store `obj` unless the store already holds a newer version (taken by `observe`)."""
        key = object_key(obj)
        current = self.store.get(key)
        if resource_version(current if isinstance(current, dict) else None) > resource_version(obj):
            return
        self._set(key, obj)

    def observe(self, obj: Body) -> None:
        """Take a body just returned by a write, ahead of its watch event."""
        key = object_key(obj)
        current = self.store.get(key)
        if isinstance(current, dict) and resource_version(current) >= resource_version(obj):
            return
        self._set(key, obj)
