"""The engine facade: refresh, diff, sync and delete one Application.

Each entry point reads the app, runs the pipeline (targets → comparison → operation steps) and
writes what happened into the app's status. The CLI calls `sync` and loops in-process; the
controller calls `process` on every event and requeues as told.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tether.cluster import errors as api_errors
from tether.cluster.client import KubeClient
from tether.cluster.registry import ClusterRegistry, UnknownCluster
from tether.engine import conditions, health, inventory, plan, tracking
from tether.engine.conditions import Reason
from tether.engine.operation import OperationPhase, OperationRequest, OperationState
from tether.engine.tracking import AppRef
from tether.model.app import AppSpec, Source
from tether.model.resources import ResourceKey
from tether.reconcile import compare as comparing
from tether.reconcile import status as statuses
from tether.reconcile import syncing
from tether.reconcile import targets as targeting
from tether.reconcile.apps import Application, AppStore
from tether.reconcile.compare import Comparison
from tether.reconcile.syncing import StepEvent, StepOutcome, SyncContext
from tether.reconcile.targets import SourceBackend, TargetError

Report = Callable[[StepEvent], None]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Refreshed:
    app: Application
    comparison: Comparison | None
    error: TargetError | None


def _spec(app: Application) -> AppSpec:
    try:
        return app.spec
    except (ValueError, KeyError, TypeError) as exc:
        raise TargetError(Reason.INVALID_SPEC, f"invalid spec: {exc}", stalled=True) from exc


class Engine:
    def __init__(
        self,
        store: AppStore,
        clusters: ClusterRegistry,
        git: SourceBackend,
        rules: health.HealthRules | None = None,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.clusters = clusters
        self.git = git
        self.rules = rules
        self.clock = clock

    def now(self) -> str:
        return self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")

    async def destination(self, spec: AppSpec) -> KubeClient:
        try:
            return await self.clusters.client(spec.destination.cluster)
        except UnknownCluster as exc:
            raise TargetError(Reason.CLUSTER_UNAVAILABLE, str(exc), stalled=True) from exc

    # ---- comparison ----------------------------------------------------------------------

    async def compare(
        self,
        app: Application,
        revision: str = "",
        sources: Sequence[Source] | None = None,
        git: SourceBackend | None = None,
    ) -> Comparison:
        """Targets at the spec's (or the given) revision compared with the live cluster;
        `sources` and `git` replace the spec's sources and the Git backend (for --local)."""
        spec = _spec(app)
        sources = tuple(sources) if sources is not None else spec.sources
        git = git or self.git
        dest = await self.destination(spec)
        revisions = await targeting.resolve_revisions(sources, git, revision)
        built = await targeting.build(
            app.ref, sources, revisions, git, dest, spec.destination.namespace
        )
        owned = inventory.parse(app.status.get("inventory"))
        return await comparing.compare(dest, app.ref, spec, built, owned, self.rules)

    async def refresh(self, ref: AppRef) -> Refreshed:
        """Compare and record sync status, health, resources and conditions."""
        app = await self.store.get(ref)
        comparison, error = None, None
        try:
            comparison = await self.compare(app)
        except TargetError as exc:
            error = exc
        operation = self.operation_state(app)
        status: dict[str, Any] = (
            statuses.comparison_fields(comparison, self.now()) if comparison else {}
        )
        if error is not None:
            status["sync"] = {
                **(app.status.get("sync") or {}),
                "status": "Unknown",
                "comparedAt": self.now(),
            }
        updates = statuses.conditions_for(app, comparison, operation, error)
        app = await self.store.patch_status(
            ref, statuses.with_conditions(app, status, updates, self.now())
        )
        return Refreshed(app, comparison, error)

    # ---- operations ----------------------------------------------------------------------

    @staticmethod
    def operation_state(app: Application) -> OperationState | None:
        raw = app.status.get("operationState")
        return OperationState.from_dict(raw) if raw else None

    def _context(self, app: Application, dest: KubeClient, report: Report) -> SyncContext:
        async def persist(state: OperationState) -> None:
            await self.store.patch_status(app.ref, {"operationState": state.to_dict()})

        return SyncContext(
            app=app.ref,
            spec=_spec(app),
            dest=dest,
            git=self.git,
            persist=persist,
            report=report,
            rules=self.rules,
            now=self.clock,
            owned=tuple(inventory.parse(app.status.get("inventory"))),
        )

    async def start(self, app: Application, report: Report) -> OperationState:
        """Turn the app's `.operation` request into a Running operation state."""
        request = app.operation
        assert request is not None
        dest = await self.destination(_spec(app))
        state = await syncing.begin(self._context(app, dest, report), request)
        await self.store.clear_operation(app.ref)
        if state.phase.completed:  # could not even start (e.g. the revision cannot be resolved)
            await self._finalize(app.ref, state, None)
            return state
        running = conditions.reconciling(Reason.SYNCING, f"sync to {state.revision} started")
        await self.store.patch_status(
            app.ref, statuses.with_conditions(app, {}, running, self.now())
        )
        return state

    async def step(self, ref: AppRef, report: Report) -> StepOutcome:
        """One step of the app's running operation (starting it if one is requested)."""
        app = await self.store.get(ref)
        state = self.operation_state(app)
        if app.operation is not None and (state is None or state.phase.completed):
            state = await self.start(app, report)
            app = await self.store.get(ref)
        if state is None or state.phase.completed:
            return StepOutcome(state, None, None)
        try:
            dest = await self.destination(_spec(app))
            outcome = await syncing.step(self._context(app, dest, report), state)
        except TargetError as exc:
            failed = replace(
                state, phase=OperationPhase.ERROR, message=exc.message, finished_at=self.now()
            )
            await self.store.patch_status(ref, {"operationState": failed.to_dict()})
            outcome = StepOutcome(failed, None, None)
        if outcome.requeue_after is None and outcome.state is not None:
            await self._finalize(ref, outcome.state, outcome.comparison)
        return outcome

    async def _finalize(
        self, ref: AppRef, state: OperationState, comparison: Comparison | None
    ) -> None:
        """Record inventory and history after an operation, then refresh sync status and health."""
        app = await self.store.get(ref)
        if not state.request.sync.dry_run:
            owned = inventory.parse(app.status.get("inventory"))
            patch: dict[str, Any] = {"inventory": statuses.next_inventory(owned, state)}
            if state.phase is OperationPhase.SUCCEEDED and comparison is not None:
                commit = comparison.targets.commit
                patch["history"] = statuses.history_after(
                    app,
                    state,
                    {"author": commit.author, "message": commit.message},
                    _history_sources(app, state),
                )
            await self.store.patch_status(ref, patch)
        await self.refresh(ref)

    async def sync(
        self,
        ref: AppRef,
        request: OperationRequest,
        report: Report = lambda _e: None,
        timeout: float = 600.0,
    ) -> OperationState:
        """Request a sync and run it in-process to completion (what the CLI does)."""
        await self.store.request_operation(ref, request)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            outcome = await self.step(ref, report)
            if outcome.requeue_after is None:
                if outcome.state is None:
                    raise RuntimeError("the operation vanished before it started")
                return outcome.state
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    f"sync still running after {timeout:.0f}s: "
                    f"{outcome.state.message if outcome.state else ''}"
                )
            await asyncio.sleep(min(outcome.requeue_after, 1.0))

    # ---- deletion ------------------------------------------------------------------------

    async def delete(
        self, ref: AppRef, cascade: bool, report: Report = lambda _e: None
    ) -> list[ResourceKey]:
        """Delete the app; with cascade, first every object it owns (and still tracks)."""
        app = await self.store.get(ref)
        deleted: list[ResourceKey] = []
        if cascade:
            dest = await self.destination(_spec(app))
            owned = inventory.parse(app.status.get("inventory"))
            for entry in sorted(
                owned, key=lambda e: plan.sort_key(plan.Task(e.key, plan.Stage.PRUNE, 0))
            ):
                if await self._delete_owned(dest, app.ref, entry):
                    deleted.append(entry.key)
                    report(StepEvent("pruned", f"{entry.key}: deleted", entry.key))
        await self.store.delete(ref)
        return deleted

    @staticmethod
    async def _delete_owned(dest: KubeClient, app: AppRef, entry: inventory.Entry) -> bool:
        live = await comparing.live_object(dest, entry.key, entry.version)
        if live is None or not tracking.is_owned_by(live, app):
            return False
        try:
            await dest.delete(
                live["apiVersion"], entry.key.kind, entry.key.name, entry.key.namespace or None
            )
        except api_errors.NotFound:
            return False
        return True


def _history_sources(app: Application, state: OperationState) -> list[dict[str, Any]]:
    """The source definitions a history entry records (what a rollback re-applies)."""
    request = state.request.sync
    if request.sources is not None:
        return [dict(s) for s in request.sources]
    if request.source is not None:
        return [dict(request.source)]
    raw = app.raw_spec
    return ([dict(raw["source"])] if raw.get("source") else []) + [
        dict(s) for s in raw.get("sources") or []
    ]
