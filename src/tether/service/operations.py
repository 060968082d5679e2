"""Operation use cases: sync, roll back, terminate, wait for, and the history of what ran.

An operation is requested by writing `.operation` (conditional on the app's resourceVersion, so
two requests never overwrite each other) and carried out by one executor (`executions`): the
app's controller, or — for the CLI when no controller is responsible — this process. Either
way the caller can follow it to its end and sees the same state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tether.cluster import errors as api_errors
from tether.engine import history as histories
from tether.engine.operation import (
    InitiatedBy,
    OperationPhase,
    OperationRequest,
    OperationState,
    Selector,
    SyncRequest,
)
from tether.model.revisions import ResolvedRevision
from tether.reconcile.apps import Application
from tether.reconcile.events import EventKind, Report, StepEvent, ignore
from tether.reconcile.orchestrator import NothingToTerminate
from tether.service import executions
from tether.service.apps import UseCaseError, get
from tether.service.executions import Execution
from tether.service.runtime import Runtime

FOLLOW_INTERVAL = 0.5


class OperationInProgress(UseCaseError):
    """The app already has an operation requested or running; one at a time."""


@dataclass(frozen=True, kw_only=True)
class SyncArgs:
    prune: bool = False
    dry_run: bool = False
    resources: tuple[str, ...] = ()  # GROUP:KIND:NAME
    revision: str = ""
    username: str = "cli"
    timeout: float = 600.0
    source: dict[str, Any] | None = None
    ignore_dependencies: bool = False  # sync before the app's dependencies are Ready


def sync_request(args: SyncArgs) -> OperationRequest:
    try:
        selectors = tuple(Selector.parse(r) for r in args.resources)
    except ValueError as exc:
        raise UseCaseError(str(exc)) from None
    return OperationRequest(
        SyncRequest(
            revision=args.revision,
            prune=args.prune,
            dry_run=args.dry_run,
            resources=selectors,
            source=args.source,
            ignore_dependencies=args.ignore_dependencies,
        ),
        InitiatedBy(username=args.username),
    )


def rollback_args(app: Application, entry_id: int, args: SyncArgs) -> SyncArgs:
    """The sync that re-deploys history entry `entry_id` (its revision and source)."""
    name = app.ref.name
    if app.spec.sync_policy.automated is not None:
        raise UseCaseError(
            f"application {name} syncs automatically; disable automated sync before rolling back"
        )
    entry = histories.find(app.status.get("history") or [], entry_id)
    if entry is None:
        raise UseCaseError(f"application {name} has no history entry {entry_id}")
    sha = ResolvedRevision.parse(str(entry["revision"])).sha
    source = entry.get("source")
    return SyncArgs(
        prune=args.prune,
        revision=sha,
        username=args.username,
        timeout=args.timeout,
        source=dict(source) if source else None,
    )


@dataclass(frozen=True)
class Requested:
    """A request written into `.operation`, and what to follow it by."""

    application: str
    request: OperationRequest
    before: str  # the id of the operation before it (the one to see replaced)
    here: bool  # this process carries it out


async def request(
    rt: Runtime, name: str, operation: OperationRequest, where: Execution
) -> Requested:
    """Write `operation` as the app's next one; refused while another is requested or runs."""
    for _ in range(5):
        app = await get(rt, name)
        if app.operating:
            raise OperationInProgress(f"application {name} has an operation in progress")
        try:
            await rt.store.request_operation(app.ref, operation, app.resource_version)
        except api_errors.Conflict:
            continue  # changed since it was read: look again (maybe someone else's request)
        here = await executions.runs_here(rt, app, where)
        return Requested(name, operation, operation_id(app), here)
    raise UseCaseError(f"application {name} kept changing; try again")


async def sync(rt: Runtime, name: str, args: SyncArgs, where: Execution) -> Requested:
    return await request(rt, name, sync_request(args), where)


async def rollback(
    rt: Runtime, name: str, entry_id: int, args: SyncArgs, where: Execution
) -> Requested:
    app = await get(rt, name)
    return await request(rt, name, sync_request(rollback_args(app, entry_id, args)), where)


async def sync_to_end(
    rt: Runtime,
    name: str,
    args: SyncArgs,
    report: Report = ignore,
    where: Execution = Execution.HERE_IF_NO_CONTROLLER,
) -> OperationState:
    """Request a sync and see it to its end (the CLI's `tether app sync`)."""
    return await run(rt, await sync(rt, name, args, where), report, args.timeout)


async def rollback_to_end(
    rt: Runtime,
    name: str,
    entry_id: int,
    args: SyncArgs,
    report: Report = ignore,
    where: Execution = Execution.HERE_IF_NO_CONTROLLER,
) -> OperationState:
    return await run(rt, await rollback(rt, name, entry_id, args, where), report, args.timeout)


async def run(rt: Runtime, requested: Requested, report: Report, timeout: float) -> OperationState:
    """Carry the request to its end: in this process, or by following its controller."""
    if not requested.here:
        message = f"a controller runs {requested.application}: following its operation"
        report(StepEvent(EventKind.STAGE, message))
    if requested.here:
        app = await get(rt, requested.application)
        try:
            return await rt.orchestrator.run_to_end(app.ref, report, timeout)
        except TimeoutError as exc:
            raise UseCaseError(str(exc)) from None
    state = await follow(rt, requested.application, requested.before, timeout, report)
    if state is None:
        controller = await executions.controller_for(rt, await get(rt, requested.application))
        who = f"its controller ({controller})" if controller else "no controller"
        raise UseCaseError(
            f"the operation of {requested.application} did not finish within {timeout:.0f}s "
            f"({who} runs it; it goes on: `tether app get {requested.application}`)"
        )
    return state


def operation_id(app: Application) -> str:
    state = app.operation_state
    return state.id if state is not None else ""


async def follow(
    rt: Runtime,
    name: str,
    before: str,
    timeout: float,
    report: Report = ignore,
    interval: float = FOLLOW_INTERVAL,
) -> OperationState | None:
    """The first finished operation after the one whose id was `before`, telling `report`
    what it does meanwhile (None: still pending or running after `timeout` seconds)."""
    deadline = asyncio.get_running_loop().time() + timeout
    told = _Told()
    while True:
        app = await get(rt, name)
        state = app.operation_state
        if state is not None and state.id != before:
            told.tell(state, report)
            if app.operation is None and state.phase.completed:
                return state
        if asyncio.get_running_loop().time() > deadline:
            return None
        await asyncio.sleep(interval)


class _Told:
    """What a follower has reported already, so each result and message is told once."""

    def __init__(self) -> None:
        self.message = ""
        self.results: set[tuple[str, str, str]] = set()

    def tell(self, state: OperationState, report: Report) -> None:
        for result in state.resources:
            seen = (str(result.key), str(result.stage), str(result.status))
            if seen not in self.results:
                self.results.add(seen)
                kind = EventKind.HOOK if result.hook_type else EventKind.APPLIED
                report(
                    StepEvent(kind, f"{result.key}: {result.status} {result.message}", result.key)
                )
        if state.message and state.message != self.message:
            self.message = state.message
            done = state.phase is OperationPhase.SUCCEEDED
            kind = EventKind.WAITING
            if state.phase.completed:
                kind = EventKind.FINISHED if done else EventKind.FAILED
            report(StepEvent(kind, state.message))


async def terminate(rt: Runtime, name: str, by: str, where: Execution) -> str:
    """Stop the app's operation at its next step boundary; the answer says what happened."""
    app = await get(rt, name)
    try:
        terminating = await rt.orchestrator.terminate(app.ref, by)
    except NothingToTerminate as exc:
        raise UseCaseError(str(exc)) from None
    if terminating is None:
        return f"the operation requested for {name} was withdrawn before it started"
    if await executions.runs_here(rt, app, where):
        # Nobody else would act on it: end it here (deleting running hooks), now.
        finished = await rt.orchestrator.run_to_end(app.ref, ignore, 60.0)
        return f"operation {terminating.id[:8]} of {name}: {finished.message}"
    return f"operation {terminating.id[:8]} of {name} stops at its next step boundary"


@dataclass(frozen=True)
class WaitFor:
    synced: bool = False
    healthy: bool = False
    operation: bool = False

    def met(self, app: Application) -> bool:
        status = app.status
        op = (status.get("operationState") or {}).get("phase")
        return (
            (not self.synced or (status.get("sync") or {}).get("status") == "Synced")
            and (not self.healthy or (status.get("health") or {}).get("status") == "Healthy")
            and (not self.operation or op in (None, "Succeeded", "Failed", "Error"))
            and app.operation is None
        )


async def wait(
    rt: Runtime, name: str, want: WaitFor, timeout: float, refresh: bool = True
) -> Application:
    deadline = asyncio.get_running_loop().time() + timeout
    app = await get(rt, name)
    while True:
        if refresh:
            app = (await rt.orchestrator.refresh(app.ref, app)).app
        if want.met(app):
            return app
        if asyncio.get_running_loop().time() > deadline:
            status = app.status
            raise UseCaseError(
                f"timed out after {timeout:.0f}s: sync {(status.get('sync') or {}).get('status')}, "
                f"health {(status.get('health') or {}).get('status')}"
            )
        await asyncio.sleep(1.0)
        app = await get(rt, name)


def history(app: Application) -> Sequence[dict[str, Any]]:
    return list(app.status.get("history") or [])
