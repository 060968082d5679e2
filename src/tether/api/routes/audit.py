"""The audit trail over HTTP: a page of entries (newest first), or all of them as JSON lines.

Entries are filtered by RBAC's `audit` resource on each entry's object (an application's is
`<project>/<name>`), so a team sees what happened to its own apps. A page may need several reads
of the store when many entries are invisible; it is filled from older entries, and the
`nextBefore` cursor continues after the last entry read.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from tether.api.access import Caller, caller
from tether.api.models import AuditPage
from tether.api.problems import Problem
from tether.api.routes.common import PREFIX, PROBLEMS
from tether.audit import queries
from tether.audit.entries import Entry, Result
from tether.audit.store import AuditLog
from tether.authz.policies import Resource

router = APIRouter(prefix=PREFIX, tags=["audit"], responses=PROBLEMS)
_ROUNDS = 20  # store reads per page at most, however few entries are visible
_EXPORT_BATCH = 500


def _filter(
    actor: str = "",
    action: Annotated[str, Query(description="A glob: app.*, login*")] = "",
    app: Annotated[str, Query(description="The object, a glob: team-a/*")] = "",
    project: str = "",
    result: Annotated[Result | None, Query()] = None,
    since: Annotated[str, Query(description="30m, 1h, 2d or an ISO time")] = "",
    until: str = "",
) -> queries.Filter:
    try:
        return queries.filter_of(
            actor=actor,
            action=action,
            obj=app,
            project=project,
            result=result,
            since=since,
            until=until,
        )
    except (ValueError, OverflowError) as exc:
        raise Problem(400, str(exc), "bad-request") from None


def _log(who: Caller) -> AuditLog:
    if who.services.audit is None:
        raise Problem(404, "this server keeps no audit trail (started without --audit-db)")
    return who.services.audit


def _visible(who: Caller, entries: tuple[Entry, ...]) -> list[Entry]:
    return who.visible(Resource.AUDIT, entries, lambda e: e.object)


@router.get("/audit", response_model=AuditPage)
async def audit_entries(
    who: Annotated[Caller, Depends(caller)],
    where: Annotated[queries.Filter, Depends(_filter)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """Who did what, newest first; pass `nextBefore` as `before` for older entries."""
    log = _log(who)
    found: list[Entry] = []
    cursor = before
    for _ in range(_ROUNDS):
        page = await asyncio.to_thread(log.query, where, limit, cursor)
        found.extend(_visible(who, page.entries))
        cursor = page.next_before
        if len(found) >= limit or cursor is None:
            break
    items = found[:limit]
    next_before = items[-1].id if len(found) > limit else cursor  # older: `before` it
    return {"items": [e.to_dict() for e in items], "nextBefore": next_before}


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "JSON lines"}},
)
async def audit_export(
    who: Annotated[Caller, Depends(caller)],
    where: Annotated[queries.Filter, Depends(_filter)],
) -> StreamingResponse:
    """Every matching entry the caller may see, oldest first, one JSON object per line."""
    log = _log(who)

    async def lines() -> AsyncIterator[bytes]:
        entries = log.scan(where, batch=_EXPORT_BATCH)
        while True:
            batch = await asyncio.to_thread(_take, entries, _EXPORT_BATCH)
            for entry in _visible(who, tuple(batch)):
                yield (json.dumps(entry.to_dict(), sort_keys=True) + "\n").encode()
            if len(batch) < _EXPORT_BATCH:
                return

    return StreamingResponse(lines(), media_type="application/x-ndjson")


def _take(entries: Any, count: int) -> list[Entry]:
    batch = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == count:
            break
    return batch
