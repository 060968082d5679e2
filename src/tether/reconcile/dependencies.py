"""Looking an app's dependencies up, and what their state means for its status and syncs.

The walk follows `spec.dependsOn` from the app through every app it reaches (bounded: the pure
core's MAX_NODES), reading each through `Lookup` (the controller's app index: no request; the
CLI and the API server: the API), then hands the bodies to the pure judgement
(`engine.dependencies`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tether.engine import dependencies
from tether.engine.conditions import Reason
from tether.engine.dependencies import Gate, Verdict
from tether.engine.tracking import AppRef
from tether.reconcile.apps import Application
from tether.reconcile.targets import TargetError

Body = dict[str, Any]
Lookup = Callable[[AppRef], Awaitable[Body | None]]
FIELD = "dependencies"

_REASONS = {
    Gate.WAITING: Reason.DEPENDENCY_NOT_READY,
    Gate.MISSING: Reason.DEPENDENCY_MISSING,
    Gate.CYCLE: Reason.DEPENDENCY_CYCLE,
}


async def verdict(app: Application, lookup: Lookup) -> Verdict:
    """Whether `app` may be synced now, as far as its dependencies go."""
    wanted = dependencies.of(app.ref, app.spec)
    if not wanted:
        return Verdict(Gate.OPEN)
    bodies: dict[AppRef, Body | None] = {}
    todo = [d.ref for d in wanted]
    while todo and len(bodies) < dependencies.MAX_NODES:
        ref = todo.pop()
        if ref in bodies or ref == app.ref:
            continue
        body = await lookup(ref)
        bodies[ref] = body
        todo.extend(dependencies.edges(ref, body))
    bodies.pop(app.ref, None)
    return dependencies.judge(app.ref, wanted, bodies, bool(app.status.get("history")))


def reason(verdict: Verdict) -> Reason:
    return _REASONS.get(verdict.gate, Reason.DEPENDENCY_NOT_READY)


def refusal(verdict: Verdict) -> TargetError:
    """A sync the dependencies do not allow now (stalled for a cycle or a missing app)."""
    return TargetError(reason(verdict), f"sync refused: {verdict.message}", stalled=verdict.stalled)


def status_field(app: Application, verdict: Verdict) -> dict[str, Any]:
    """`status.dependencies` for the app (removed when it has none any more)."""
    if verdict.states or verdict.gate is not Gate.OPEN:
        return {FIELD: [s.to_dict() for s in verdict.states]}
    return {FIELD: None} if FIELD in app.status else {}
