"""Dependencies between Applications (`spec.dependsOn`): whether an app may be synced now.

Platform teams deploy what others need first: CRDs and their operators, ingress, certificates.
An app that depends on others is synced only once each of them is **Ready**: its Ready condition
True for its current generation (so Synced and Healthy at its current revision, nothing failed)
and no operation of its own requested or running. A dependency with `readyOnly: false` only
orders the first sync: once the app has synced successfully, it no longer holds it back.

The graph is checked as it is walked: a dependency that does not exist, or a cycle through the
app, stops the app (Stalled: only a change to an app's spec can help), and every app in the cycle
finds the same cycle when it is judged. A dependency that is not Ready holds the app's *next*
sync (not its current state, which stays as it is) until the dependency recovers.

Everything here is pure: the caller looks the Applications up (the controller from its index,
the CLI from the API) and passes their bodies in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tether.engine.tracking import AppRef
from tether.model.app import AppSpec, parse_spec

Body = Mapping[str, Any]
MAX_NODES = 1000  # a walk larger than this is refused rather than followed


class Gate(StrEnum):
    OPEN = "open"  # every dependency is Ready (or no longer holds the app)
    WAITING = "waiting"  # some dependency is not Ready yet
    MISSING = "missing"  # some dependency does not exist
    CYCLE = "cycle"  # the app depends on itself through others


@dataclass(frozen=True)
class Dependency:
    ref: AppRef
    ready_only: bool = True


@dataclass(frozen=True)
class DependencyState:
    """How one direct dependency stands, as status shows it."""

    ref: AppRef
    ready: bool
    message: str = ""  # why it is not Ready
    holds: bool = False  # it keeps the app from syncing now

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.ref.name,
            "namespace": self.ref.namespace,
            "ready": self.ready,
        }
        if self.message:
            entry["message"] = self.message
        return entry


@dataclass(frozen=True)
class Verdict:
    gate: Gate
    message: str = ""
    states: tuple[DependencyState, ...] = ()

    @property
    def open(self) -> bool:
        return self.gate is Gate.OPEN

    @property
    def stalled(self) -> bool:
        return self.gate in (Gate.MISSING, Gate.CYCLE)


def of(app: AppRef, spec: AppSpec) -> tuple[Dependency, ...]:
    """The app's dependencies, namespaces filled in (default: the app's own)."""
    return tuple(
        Dependency(AppRef(d.namespace or app.namespace, d.name), d.ready_only)
        for d in spec.depends_on
    )


def edges(ref: AppRef, body: Body | None) -> tuple[AppRef, ...]:
    """The refs an Application body depends on (none when absent or its spec is invalid)."""
    if body is None:
        return ()
    try:
        spec = parse_spec(body.get("spec") or {})
    except (ValueError, KeyError, TypeError):
        return ()
    return tuple(d.ref for d in of(ref, spec))


def reachable(
    app: AppRef, spec: AppSpec, lookup: Callable[[AppRef], Body | None]
) -> dict[AppRef, Body | None]:
    """Every app `app` reaches through dependsOn (bounded by MAX_NODES), as `lookup` finds it."""
    bodies: dict[AppRef, Body | None] = {}
    todo = [d.ref for d in of(app, spec)]
    while todo and len(bodies) < MAX_NODES:
        ref = todo.pop()
        if ref in bodies or ref == app:
            continue
        bodies[ref] = body = lookup(ref)
        todo.extend(edges(ref, body))
    return bodies


def fingerprint(
    app: AppRef, spec: AppSpec, lookup: Callable[[AppRef], Body | None]
) -> tuple[tuple[str, int, bool], ...]:
    """What the app's dependency verdict depends on: each reachable app's generation (its
    dependsOn may have changed) and readiness. While it is unchanged, so is the verdict."""
    found = reachable(app, spec, lookup)
    return tuple(
        sorted(
            (str(ref), int(((body or {}).get("metadata") or {}).get("generation", -1)),
             readiness(body)[0])
            for ref, body in found.items()
        )
    )  # fmt: skip


def readiness(body: Body | None) -> tuple[bool, str]:
    """(Ready, why not) of an Application body."""
    if body is None:
        return False, "does not exist"
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    if body.get("operation"):
        return False, "an operation is requested"
    state = status.get("operationState") or {}
    if state.get("phase") in ("Running", "Terminating"):
        return False, "an operation is running"
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    if ready is None:
        return False, "not reconciled yet"
    if int(ready.get("observedGeneration", -1)) != int(meta.get("generation", 0)):
        return False, "its latest spec is not reconciled yet"
    if ready.get("status") != "True":
        return False, str(ready.get("message") or ready.get("reason") or "not Ready")
    return True, ""


def cycle(start: AppRef, graph: Mapping[AppRef, Sequence[AppRef]]) -> tuple[AppRef, ...]:
    """A path start → ... → start through `graph`, or () if there is none."""
    stack: list[tuple[AppRef, tuple[AppRef, ...]]] = [(start, (start,))]
    seen: set[AppRef] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return (*path, start)
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, (*path, nxt)))
    return ()


def judge(
    app: AppRef,
    dependencies: Sequence[Dependency],
    bodies: Mapping[AppRef, Body | None],
    first_sync_done: bool,
) -> Verdict:
    """May `app` be synced now? `bodies` holds every app reachable from it (None: absent)."""
    if not dependencies:
        return Verdict(Gate.OPEN)
    graph = {ref: edges(ref, body) for ref, body in bodies.items()}
    graph[app] = tuple(d.ref for d in dependencies)
    loop = cycle(app, graph)
    if loop:
        path = " -> ".join(str(r) for r in loop)
        return Verdict(Gate.CYCLE, f"dependency cycle: {path}")
    states = tuple(_state(d, bodies.get(d.ref), first_sync_done) for d in dependencies)
    missing = [s for s in states if bodies.get(s.ref) is None]
    if missing:
        names = ", ".join(str(s.ref) for s in missing)
        return Verdict(Gate.MISSING, f"dependency {names} does not exist", states)
    holding = [s for s in states if s.holds]
    if holding:
        first = holding[0]
        more = f" (and {len(holding) - 1} more)" if len(holding) > 1 else ""
        message = f"waiting for dependency {first.ref}: {first.message}{more}"
        return Verdict(Gate.WAITING, message, states)
    return Verdict(Gate.OPEN, "", states)


def _state(dependency: Dependency, body: Body | None, first_sync_done: bool) -> DependencyState:
    ready, why = readiness(body)
    holds = not ready and (dependency.ready_only or not first_sync_done)
    return DependencyState(dependency.ref, ready, why, holds)
