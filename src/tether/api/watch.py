"""One watch of Applications, shared by the app list and every SSE subscriber.

The API server lists and watches Applications once (a controller Reflector, keeping only each
app's summary), and fans each change out to the subscribers' queues. A queue is bounded: a
subscriber that falls behind loses its queued changes and gets one `RESYNC` marker instead,
upon which its stream sends the whole (visible) list again. So a slow client costs a bounded
amount of memory and never slows the watch or the other subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from tether import crds
from tether.api import summaries
from tether.api.summaries import Summary
from tether.cluster.client import KubeClient
from tether.controller.reflector import Key, Reflector


class Marker(Enum):
    RESYNC = "resync"  # changes were dropped: send everything again
    CLOSED = "closed"  # the server is shutting down


@dataclass(frozen=True)
class Change:
    type: str  # ADDED, MODIFIED, DELETED
    summary: Summary


def _meaningful(s: Summary | None) -> Summary | None:
    return {k: v for k, v in s.items() if k != "resourceVersion"} if s is not None else None


class Subscription:
    def __init__(self, size: int) -> None:
        self._queue: asyncio.Queue[Change | Marker] = asyncio.Queue(size + 2)  # room for markers
        self._size = size

    def offer(self, item: Change | Marker) -> None:
        if isinstance(item, Change) and self._queue.qsize() >= self._size:
            self._drain()
            item = Marker.RESYNC
        self._queue.put_nowait(item)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def next(self, timeout: float) -> Change | Marker | None:
        """The next change or marker; None after `timeout` seconds without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None


class AppWatch:
    def __init__(self, kube: KubeClient, namespace: str, queue_size: int = 256) -> None:
        self.namespace = namespace
        self.queue_size = queue_size
        self.reflector = Reflector(
            kube,
            crds.API_VERSION,
            "Application",
            namespace=namespace,
            keep=summaries.summary,
            on_event=self._event,
        )
        self._subscribers: set[Subscription] = set()
        self.delivered = 0  # changes offered to subscribers, for measurements

    @property
    def ready(self) -> bool:
        return self.reflector.synced.is_set()

    def start(self) -> None:
        self.reflector.start()

    async def wait_ready(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await self.reflector.wait_synced(timeout)
        return self.ready

    def apps(self) -> list[Summary]:
        return list(self.reflector.store.values())

    def get(self, name: str) -> Summary | None:
        found = self.reflector.store.get((self.namespace, name))
        return found if isinstance(found, dict) else None

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        subscription = Subscription(self.queue_size)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _event(self, _key: Key, old: Summary | None, new: Summary | None) -> None:
        if _meaningful(old) == _meaningful(new):
            return
        if new is None:
            assert old is not None
            change = Change("DELETED", old)
        else:
            change = Change("ADDED" if old is None else "MODIFIED", new)
        for subscription in list(self._subscribers):
            subscription.offer(change)
            self.delivered += 1

    async def aclose(self) -> None:
        for subscription in list(self._subscribers):
            subscription.offer(Marker.CLOSED)
        await self.reflector.aclose()
