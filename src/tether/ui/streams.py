"""Live pages: Server-Sent Events carrying rendered HTML, fed by the API's shared app watch.

An event's data is HTML whose top-level elements have ids; the page's script (static/tether.js)
replaces the elements with those ids, then fires `app-changed` so the panels that depend on the
app (tree, history) reload themselves. `gone` names an element to remove; `changed` tells a list
that something it may not show changed (it reloads its table). Rendering happens on the server,
through the same autoescaped templates as the pages, so a live update is exactly as safe.

Each subscriber checks visibility with the current policy for every change, like the API's
stream, and a comment goes out every `heartbeat_seconds` so a dead connection is noticed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.responses import StreamingResponse

from tether.api.services import Services
from tether.api.watch import Change, Marker

# What a page does with one change: the SSE frames to send (none: not for this page).
OnChange = Callable[[Change | None], Awaitable[list[str]]]


def frame(event: str, data: str) -> str:
    lines = data.splitlines() or [""]
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


def response(frames: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        frames,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def follow(services: Services, on_change: OnChange) -> AsyncIterator[str]:
    """`on_change(None)` first (the current state), then one call per change; a subscriber
    that fell behind gets `on_change(None)` again."""
    with services.apps.subscribe() as subscription:
        yield ": connected\n\n"
        for text in await on_change(None):
            yield text
        while True:
            item = await subscription.next(services.settings.heartbeat_seconds)
            if item is None:
                yield ": heartbeat\n\n"
            elif item is Marker.CLOSED:
                return
            elif item is Marker.RESYNC:
                for text in await on_change(None):
                    yield text
            else:
                for text in await on_change(item):
                    yield text
