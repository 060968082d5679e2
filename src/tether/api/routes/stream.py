"""`GET /api/v1/stream/applications`: Server-Sent Events with application summaries as they
change, for the UI's live lists and for `watch`-like clients.

Each subscriber first gets every visible app (`type: ADDED`), then ADDED/MODIFIED/DELETED as
the shared watch sees them; `event: resync` means changes were dropped because this client fell
behind, and the full list follows again. Visibility is decided with the current policy for each
event, so a revoked grant stops the flow within seconds. A comment line goes out at least every
`heartbeat_seconds`, so proxies keep the connection and clients notice a dead one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from tether.api import summaries
from tether.api.access import Caller, caller
from tether.api.routes.common import PREFIX, PROBLEMS
from tether.api.summaries import Summary
from tether.api.watch import Change, Marker
from tether.authz.policies import Action, Resource

router = APIRouter(prefix=PREFIX, tags=["stream"], responses=PROBLEMS)


def _event(change: Change) -> ServerSentEvent:
    return ServerSentEvent(
        event="application",
        id=change.summary.get("resourceVersion") or None,
        data={"type": change.type, "application": change.summary},
    )


@router.get("/stream/applications", response_class=EventSourceResponse)
async def stream_applications(
    who: Annotated[Caller, Depends(caller)],
    project: Annotated[list[str], Query()] = [],  # noqa: B006 - read, never mutated
    name: str = "",
) -> AsyncIterator[ServerSentEvent]:
    """Application summaries as they change (text/event-stream; `event: application`)."""
    services = who.services
    wanted = summaries.Filters(project=tuple(project))

    async def visible(summary: Summary) -> bool:
        authz = await services.policies.authorizer()
        obj = summaries.app_object(summary)
        return (
            wanted.matches(summary)
            and (not name or summary["name"] == name)
            and authz.allowed(who.principal, Resource.APPLICATIONS, Action.GET, obj)
        )

    async def snapshot(apps: Iterable[Summary]) -> AsyncIterator[ServerSentEvent]:
        for summary in sorted(apps, key=lambda s: str(s["name"])):
            if await visible(summary):
                yield _event(Change("ADDED", summary))

    with services.apps.subscribe() as subscription:  # before the snapshot: nothing is missed
        async for event in snapshot(services.apps.apps()):
            yield event
        while True:
            item = await subscription.next(services.settings.heartbeat_seconds)
            if item is None:
                yield ServerSentEvent(comment="heartbeat")
            elif item is Marker.CLOSED:
                return
            elif item is Marker.RESYNC:
                yield ServerSentEvent(event="resync", data={})
                async for event in snapshot(services.apps.apps()):
                    yield event
            elif await visible(item.summary):
                yield _event(item)
