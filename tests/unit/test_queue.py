"""The work queue: exclusivity, dedupe, debounce, delays, backoff, workers and shutdown.

Time-dependent behaviour runs on a fake clock (the queue brings its state up to date whenever
it is used); the few tests of waking a blocked `get` use real delays of a few milliseconds.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable

import pytest

from tether.controller import queue
from tether.controller.queue import Backoff, WorkQueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class UpperBound(random.Random):
    """Jitter that always picks the ceiling, so backoff delays are exact."""

    def uniform(self, a: float, b: float) -> float:
        return b


def fake_queue(backoff: Backoff = Backoff()) -> tuple[WorkQueue[str], FakeClock]:
    clock = FakeClock()
    return WorkQueue(clock=clock, backoff=backoff, rng=UpperBound()), clock


async def take(q: WorkQueue[str], timeout: float = 1.0) -> str:
    return await asyncio.wait_for(q.get(), timeout)


async def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


async def nothing_ready(q: WorkQueue[str]) -> bool:
    try:
        key = await asyncio.wait_for(q.get(), 0.02)
    except TimeoutError:
        return True
    q.done(key)
    return False


# ---- dedupe and exclusivity ------------------------------------------------------------------


async def test_duplicate_adds_collapse_and_order_is_first_in_first_out() -> None:
    q, _ = fake_queue()
    for key in ["a", "b", "a", "c", "b", "a"]:
        q.add(key)

    assert len(q) == 3
    assert [await take(q) for _ in range(3)] == ["a", "b", "c"]
    assert await nothing_ready(q)


async def test_a_key_being_processed_is_not_handed_out_again_until_done() -> None:
    q, _ = fake_queue()
    q.add("a")
    assert await take(q) == "a"

    for _ in range(3):
        q.add("a")  # events during processing mark it dirty...
    assert len(q) == 0
    assert await nothing_ready(q)

    q.done("a")  # ...and it comes back exactly once
    assert len(q) == 1
    assert await take(q) == "a"
    q.done("a")
    assert await nothing_ready(q)


async def test_done_without_adds_meanwhile_does_not_requeue() -> None:
    q, _ = fake_queue()
    q.add("a")
    q.done(await take(q))

    assert q.depth() == queue.Depth(ready=0, delayed=0, processing=0)


# ---- delays and debounce ---------------------------------------------------------------------


async def test_add_after_is_ready_only_at_its_due_time() -> None:
    q, clock = fake_queue()
    q.add_after("a", 5.0)
    assert q.depth() == queue.Depth(ready=0, delayed=1, processing=0)

    clock.advance(4.99)
    assert len(q) == 0
    clock.advance(0.01)
    assert len(q) == 1
    assert await take(q) == "a"


@pytest.mark.parametrize(("first", "second"), [(10.0, 3.0), (3.0, 10.0)], ids=["sooner", "later"])
async def test_a_delayed_key_keeps_its_earliest_due_time(first: float, second: float) -> None:
    q, clock = fake_queue()
    q.add_after("a", first)
    q.add_after("a", second)

    clock.advance(2.99)
    assert len(q) == 0
    clock.advance(0.01)
    assert len(q) == 1
    q.done(await take(q))
    clock.advance(10.0)
    assert len(q) == 0  # the later due time was not kept as a second delivery


async def test_an_immediate_add_wins_over_a_pending_delay() -> None:
    q, clock = fake_queue()
    q.add_after("a", 10.0)
    q.add("a")

    assert await take(q) == "a"
    q.done("a")
    clock.advance(10.0)
    assert q.depth() == queue.Depth(ready=0, delayed=0, processing=0)


async def test_debounce_coalesces_a_burst_into_one_delivery_after_the_first_add() -> None:
    q, clock = fake_queue()
    for _ in range(5):  # events at 0, 0.02, ... 0.08 s: the window does not slide
        q.add("a", debounce=0.1)
        clock.advance(0.02)

    assert len(q) == 0  # t = 0.1 - a rounding hair
    clock.advance(0.001)
    assert len(q) == 1
    assert await take(q) == "a"
    q.done("a")
    clock.advance(1.0)
    assert len(q) == 0


async def test_debounce_while_queued_collapses_into_the_queued_key() -> None:
    q, clock = fake_queue()
    q.add("a")
    q.add("a", debounce=0.1)
    assert await take(q) == "a"
    q.done("a")

    clock.advance(1.0)
    assert len(q) == 0


async def test_a_key_delayed_while_processing_waits_for_done() -> None:
    q, clock = fake_queue()
    q.add("a")
    assert await take(q) == "a"
    q.add_after("a", 1.0)

    clock.advance(1.0)
    assert len(q) == 0
    q.done("a")
    assert await take(q) == "a"


async def test_a_waiting_get_wakes_when_a_delayed_key_falls_due() -> None:
    q: WorkQueue[str] = WorkQueue()
    getter = asyncio.create_task(take(q))
    await asyncio.sleep(0)  # the getter now waits with no due time at all
    started = time.monotonic()
    q.add_after("a", 0.02)

    assert await getter == "a"
    assert 0.015 <= time.monotonic() - started < 0.5


async def test_debounce_delivers_once_no_later_than_the_window_with_a_real_clock() -> None:
    q: WorkQueue[str] = WorkQueue()
    started = time.monotonic()
    for _ in range(10):
        q.add("a", debounce=0.03)
        await asyncio.sleep(0.001)

    assert await take(q) == "a"
    assert time.monotonic() - started < 0.3
    q.done("a")
    assert await nothing_ready(q)


# ---- backoff ---------------------------------------------------------------------------------


async def test_backoff_doubles_per_failure_up_to_the_maximum_and_forget_resets_it() -> None:
    q, clock = fake_queue(Backoff(base=0.1, maximum=60.0))
    expected = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 60.0, 60.0]
    for delay in expected:
        q.add_rate_limited("a")
        clock.advance(delay - 1e-6)
        assert len(q) == 0, delay
        clock.advance(2e-6)
        assert len(q) == 1, delay
        q.done(await take(q))
    assert q.failures("a") == len(expected)

    q.forget("a")
    q.add_rate_limited("a")
    clock.advance(0.1)
    assert len(q) == 1


def test_full_jitter_spreads_delays_between_zero_and_the_ceiling() -> None:
    backoff, rng = Backoff(base=0.1, maximum=60.0), random.Random(7)
    delays = [backoff.delay(5, rng) for _ in range(1000)]

    assert all(0.0 <= d <= 3.2 for d in delays)
    assert min(delays) < 0.2 and max(delays) > 3.0
    assert backoff.ceiling(10_000) == 60.0  # no float overflow for a key failing forever


# ---- workers ---------------------------------------------------------------------------------


async def test_workers_survive_handler_exceptions_and_retry_with_backoff() -> None:
    q: WorkQueue[str] = WorkQueue(backoff=Backoff(base=0.002, maximum=0.01))
    calls: list[str] = []

    async def handler(key: str) -> float | None:
        calls.append(key)
        if key == "flaky" and calls.count("flaky") <= 3:
            raise RuntimeError("boom")
        return None

    workers = asyncio.create_task(queue.run_workers(q, handler, concurrency=1))
    q.add("flaky")
    await wait_until(lambda: calls.count("flaky") == 4)
    assert q.failures("flaky") == 0  # forgotten after the success

    q.add("other")  # the single worker is still alive
    await wait_until(lambda: "other" in calls)
    q.shutdown()
    await asyncio.wait_for(workers, 1.0)


async def test_a_handler_asking_for_requeue_gets_its_key_back_after_that_delay() -> None:
    q: WorkQueue[str] = WorkQueue()
    seen: list[float] = []

    async def handler(key: str) -> float | None:
        seen.append(time.monotonic())
        return 0.02 if len(seen) < 3 else None

    workers = asyncio.create_task(queue.run_workers(q, handler, concurrency=2))
    q.add("a")
    await wait_until(lambda: len(seen) == 3)
    q.shutdown()
    await asyncio.wait_for(workers, 1.0)

    assert all(later - earlier >= 0.015 for earlier, later in itertools.pairwise(seen))


async def test_workers_run_keys_in_parallel_but_never_one_key_twice_at_once() -> None:
    q: WorkQueue[str] = WorkQueue()
    in_flight: set[str] = set()
    overlaps: list[str] = []
    most_in_flight = 0
    processed: dict[str, int] = {}

    async def handler(key: str) -> float | None:
        nonlocal most_in_flight
        if key in in_flight:
            overlaps.append(key)
        in_flight.add(key)
        most_in_flight = max(most_in_flight, len(in_flight))
        await asyncio.sleep(0.002)
        in_flight.discard(key)
        processed[key] = processed.get(key, 0) + 1
        return None

    workers = asyncio.create_task(queue.run_workers(q, handler, concurrency=8))
    keys = [f"app-{i}" for i in range(5)]
    for _ in range(50):  # a storm of events for few keys, while they are being processed
        for key in keys:
            q.add(key)
        await asyncio.sleep(0.001)
    await wait_until(lambda: q.depth() == queue.Depth(0, 0, 0))
    q.shutdown()
    await asyncio.wait_for(workers, 1.0)

    assert overlaps == []
    assert most_in_flight == 5
    assert all(processed[key] < 50 for key in keys)  # adds collapsed


async def test_a_backlog_of_instant_handlers_does_not_starve_the_event_loop() -> None:
    q: WorkQueue[int] = WorkQueue()
    handled = 0

    async def handler(key: int) -> float | None:  # never suspends, like "not my shard: skip"
        nonlocal handled
        handled += 1
        return None

    for key in range(5000):
        q.add(key)
    workers = asyncio.create_task(queue.run_workers(q, handler, concurrency=1))
    await asyncio.sleep(0)  # the worker starts...
    await asyncio.sleep(0)  # ...and we (a lease renewal, say) get to run again meanwhile
    assert 0 < handled < 5000
    q.shutdown()
    await asyncio.wait_for(workers, 1.0)


async def test_shutdown_wakes_waiting_getters_and_ignores_later_adds() -> None:
    q: WorkQueue[str] = WorkQueue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)

    q.shutdown()
    results = await asyncio.gather(*getters, return_exceptions=True)
    assert all(isinstance(r, queue.ShutDown) for r in results)
    q.add("a")
    assert len(q) == 0
    with pytest.raises(queue.ShutDown):
        await q.get()


async def test_run_workers_returns_when_the_queue_shuts_down_mid_work() -> None:
    q: WorkQueue[str] = WorkQueue()
    finished: list[str] = []

    async def handler(key: str) -> float | None:
        await asyncio.sleep(0.02)
        finished.append(key)
        return None

    workers = asyncio.create_task(queue.run_workers(q, handler, concurrency=2))
    q.add("a")
    q.add("b")
    q.add("c")
    await asyncio.sleep(0.005)
    q.shutdown()
    await asyncio.wait_for(workers, 1.0)

    assert sorted(finished) == ["a", "b"]  # in-flight work finished; "c" was never started
