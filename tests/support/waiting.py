"""Waiting for a condition with a failure message that says what was last seen.

Cluster tests wait for asynchronous controllers; a bare timeout tells nothing, so every wait
names what it waited for and shows the last observed value when it gives up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    pass


async def wait_for(
    observe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.2,
) -> T:
    """Poll `observe()` until `until(value)` holds; fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last: object = "<never observed>"
    while True:
        try:
            value = await observe()
            last = value
            if until(value):
                return value
        except Exception as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            raise WaitTimeout(
                f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}"[:4000]
            )
        await asyncio.sleep(interval)


def condition(obj: dict[str, object] | None, type_: str) -> str | None:
    """The status ('True'/'False'/'Unknown') of condition `type_` in obj.status.conditions."""
    status = (obj or {}).get("status") or {}
    assert isinstance(status, dict)
    for cond in status.get("conditions") or []:
        if cond.get("type") == type_:
            return str(cond.get("status"))
    return None
