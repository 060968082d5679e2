"""Coalescing: at most one run of an operation per key; callers that arrive meanwhile share it.

Fifty Applications on one repository all resolve it after a push; without coalescing that is
fifty `git fetch` processes racing for the same ref locks. With it, the first caller starts the
work, the others await the same task, and the key is free again the moment it settles, so the
next caller after that triggers a fresh run (results are not cached here).

Each caller awaits through `asyncio.shield`: one caller being cancelled (its reconcile timed
out) does not cancel the work the others are waiting for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Coalescer(Generic[K, T]):
    def __init__(self) -> None:
        self._inflight: dict[K, asyncio.Task[T]] = {}
        self.started = 0  # how many runs really began (the rest joined one): for tests, metrics

    def running(self, key: K) -> bool:
        return key in self._inflight

    async def run(self, key: K, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(work())
            self.started += 1
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(task)

    def _settled(self, key: K, task: asyncio.Task[T]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # mark it retrieved: every waiter may have been cancelled
