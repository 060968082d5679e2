"""A rate-limited work queue of keys, with client-go's semantics, for asyncio.

Controllers do not process events, they process keys: a watch event says "app X may have
changed", and the reconcile of X reads the current state anyway. So the queue holds keys, and:

- a key is never processed by two workers at once: while it is out (between `get` and `done`)
  new adds only mark it dirty, and it is queued again, once, when `done` is called;
- duplicate adds of a queued key collapse into one, so a burst of events costs one reconcile;
- `add(key, debounce=...)` lets watch events coalesce for a moment before the key is ready;
- delayed adds keep the earliest due time, and an immediate add wins over a pending delay;
- failures back off per key (exponential with full jitter) until `forget` says it succeeded.

`run_workers` is the loop every controller writes around it. The clock is injectable so tests
need not sleep: all time-dependent state is brought up to date whenever the queue is used.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger(__name__)

K = TypeVar("K", bound=Hashable)
Clock = Callable[[], float]
Handler = Callable[[K], Awaitable[float | None]]


class ShutDown(Exception):
    """The queue was shut down: `get` hands out nothing more."""


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Per-key exponential backoff: the n-th consecutive failure waits up to base * 2**n."""

    base: float = 0.1
    maximum: float = 60.0

    def ceiling(self, failures: int) -> float:
        # min() before the power would overflow: 2**1100 is fine for ints, not for floats
        return min(self.maximum, self.base * float(2 ** min(failures, 64)))

    def delay(self, failures: int, rng: random.Random) -> float:
        # Full jitter (AWS architecture blog): spreads retries of keys that failed together.
        return rng.uniform(0.0, self.ceiling(failures))


@dataclass(frozen=True)
class Depth:
    """How many keys wait in each state; `ready` is the classic queue-depth metric."""

    ready: int
    delayed: int
    processing: int


class WorkQueue(Generic[K]):
    """Keys to process, each handed to one worker at a time; see the module docstring."""

    def __init__(
        self,
        *,
        backoff: Backoff = Backoff(),
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._backoff = backoff
        self._clock = clock
        self._rng = rng or random.Random()
        self._ready: deque[K] = deque()
        self._dirty: set[K] = set()  # needs processing: in _ready, or re-queued on done()
        self._processing: set[K] = set()
        self._due: dict[K, float] = {}  # delayed keys and when they become ready
        self._timers: list[tuple[float, int, K]] = []  # heap; stale entries skipped lazily
        self._seq = 0  # heap tie-breaker, so keys themselves are never compared
        self._failures: dict[K, int] = {}
        self._wakeup = asyncio.Event()
        self._shut_down = False

    # ---- adding ------------------------------------------------------------------------------

    def add(self, key: K, *, debounce: float = 0.0) -> None:
        """Queue `key` now, or at the latest `debounce` seconds after the first of a burst."""
        if debounce > 0:
            self.add_after(key, debounce)
            return
        self._due.pop(key, None)  # an immediate add supersedes a pending delay
        self._enqueue(key)

    def add_after(self, key: K, delay: float) -> None:
        """Queue `key` after `delay` seconds, unless it is due sooner already."""
        if self._shut_down or key in self._dirty:
            return  # it will be processed anyway, and the handler decides what comes next
        if delay <= 0:
            self.add(key)
            return
        due = self._clock() + delay
        pending = self._due.get(key)
        if pending is not None and pending <= due:
            return  # keep the earliest due time: a debounce window never slides
        self._due[key] = due
        self._seq += 1
        heapq.heappush(self._timers, (due, self._seq, key))
        self._wakeup.set()  # a waiting get() may have to wake sooner

    def add_rate_limited(self, key: K) -> None:
        """Queue `key` after its backoff delay, which grows with each call until `forget`."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self.add_after(key, self._backoff.delay(failures, self._rng))

    def forget(self, key: K) -> None:
        """The key succeeded: its next failure starts from the base delay again."""
        self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        """Consecutive failures of `key` since it was last forgotten."""
        return self._failures.get(key, 0)

    def _enqueue(self, key: K) -> None:
        if self._shut_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._ready.append(key)
            self._wakeup.set()

    # ---- taking ------------------------------------------------------------------------------

    async def get(self) -> K:
        """The next ready key, now exclusively the caller's until `done(key)`."""
        while True:
            self._promote_due()
            if self._shut_down:
                raise ShutDown()
            if self._ready:
                return self._take()
            self._wakeup.clear()
            await self._sleep(self._next_due())

    def done(self, key: K) -> None:
        """The caller finished `key`; if it was added meanwhile, it is queued again."""
        self._processing.discard(key)
        if key in self._dirty and not self._shut_down:
            self._ready.append(key)
            self._wakeup.set()

    def _take(self) -> K:
        key = self._ready.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def _promote_due(self) -> None:
        now = self._clock()
        while self._timers and self._timers[0][0] <= now:
            due, _, key = heapq.heappop(self._timers)
            if self._due.get(key) == due:  # otherwise superseded by an earlier or immediate add
                del self._due[key]
                self._enqueue(key)

    def _next_due(self) -> float | None:
        while self._timers and self._due.get(self._timers[0][2]) != self._timers[0][0]:
            heapq.heappop(self._timers)  # drop superseded entries so they don't cause wakeups
        return self._timers[0][0] if self._timers else None

    async def _sleep(self, due: float | None) -> None:
        timeout = None if due is None else max(0.0, due - self._clock())
        try:
            async with asyncio.timeout(timeout):
                await self._wakeup.wait()
        except TimeoutError:
            pass

    # ---- lifecycle and metrics ---------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop handing out keys: waiting and future `get`s raise ShutDown; adds are ignored.

        Keys being processed may still be marked `done`. Nothing is drained: a controller
        reconciles every app again when it starts, so queued keys are not lost work.
        """
        self._shut_down = True
        self._ready.clear()
        self._dirty.clear()
        self._due.clear()
        self._timers.clear()
        self._wakeup.set()

    @property
    def shutting_down(self) -> bool:
        return self._shut_down

    def __len__(self) -> int:
        """Keys ready to be handed out now (the queue depth metric)."""
        self._promote_due()
        return len(self._ready)

    def depth(self) -> Depth:
        self._promote_due()
        return Depth(len(self._ready), len(self._due), len(self._processing))


async def run_workers(queue: WorkQueue[K], handler: Handler[K], concurrency: int) -> None:
    """Process keys with `concurrency` workers until the queue shuts down.

    The handler returns None, or seconds after which to process the key again (a periodic
    resync); an exception backs the key off. Workers survive every handler exception.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    async with asyncio.TaskGroup() as workers:
        for _ in range(concurrency):
            workers.create_task(_work(queue, handler))


async def _work(queue: WorkQueue[K], handler: Handler[K]) -> None:
    while True:
        try:
            key = await queue.get()
        except ShutDown:
            return
        try:
            await _handle(queue, handler, key)
        finally:
            queue.done(key)
        # get() and a handler that never suspends (say, "not my shard") would otherwise run the
        # whole backlog in one go, starving lease renewals and watches on the same event loop.
        await asyncio.sleep(0)


async def _handle(queue: WorkQueue[K], handler: Handler[K], key: K) -> None:
    try:
        requeue_after = await handler(key)
    except Exception:
        queue.add_rate_limited(key)
        log.exception("reconcile failed", key=str(key), failures=queue.failures(key))
        return
    queue.forget(key)
    if requeue_after is not None:
        queue.add_after(key, requeue_after)
