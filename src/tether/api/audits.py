"""One audit entry per user action, with how it ended: succeeded, failed or denied.

A route wraps the action in `audited(...)`: authorization inside the block (a `Denied` problem)
is recorded as denied, any other error as failed (with the problem's detail, never a trace),
and a normal exit as succeeded. Parameters are redacted by the audit trail before they are
stored. Entries are written off the event loop; a request waits for its entry, so an action
that was answered has been recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from tether.api.access import Caller, Denied
from tether.api.problems import translate
from tether.audit.entries import Actor, Entry, Result
from tether.authz.policies import Resource

PROJECT_CREATE = "project.create"
PROJECT_UPDATE = "project.update"
PROJECT_DELETE = "project.delete"
CLUSTER_CREATE = "cluster.create"
CLUSTER_DELETE = "cluster.delete"
REPOSITORY_CREATE = "repository.create"
REPOSITORY_UPDATE = "repository.update"
REPOSITORY_DELETE = "repository.delete"


@dataclass
class Outcome:
    """What the block may add to its entry."""

    message: str = ""


@dataclass(frozen=True)
class Action:
    name: str
    resource: Resource
    object: str
    project: str = ""


async def _record(
    who: Caller, action: Action, parameters: Mapping[str, Any], result: Result, message: str
) -> None:
    audit = who.services.audit
    if audit is None:
        return
    entry = Entry(
        action=action.name,
        actor=Actor.of(who.principal),
        result=result,
        resource=str(action.resource),
        object=action.object,
        project=action.project,
        parameters=dict(parameters),
        message=message,
        source_ip=who.address,
    )
    await asyncio.to_thread(audit.record, entry)


@asynccontextmanager
async def audited(
    who: Caller, action: Action, parameters: Mapping[str, Any] | None = None
) -> AsyncIterator[Outcome]:
    outcome = Outcome()
    params = parameters or {}
    try:
        yield outcome
    except Denied as exc:
        await _record(who, action, params, Result.DENIED, exc.detail)
        raise
    except Exception as exc:
        problem = translate(exc)
        detail = problem.detail if problem is not None else "internal error"
        await _record(who, action, params, Result.FAILED, detail)
        raise
    await _record(who, action, params, Result.SUCCEEDED, outcome.message)
