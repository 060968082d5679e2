"""Reconciling one Application in the controller: the decisions around the orchestrator's steps.

Read top to bottom: skip apps this replica does not own; finish a deletion; honour a refresh
request; continue a running operation; otherwise refresh (cheap when nothing changed: cached
live state, memoized diffs, no status write), report drift, and start an automated sync when
the rules allow it. The return value is when to come back.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from tether import render
from tether.audit import automation
from tether.audit.entries import DriftCause, Entry
from tether.audit.store import AuditLog
from tether.controller import decisions
from tether.controller.events import EventRecorder
from tether.controller.events import Reason as EventReason
from tether.controller.metrics import Metrics
from tether.controller.settings import RuntimeConfig
from tether.engine.comparisons import Comparison
from tether.engine.operation import (
    InitiatedBy,
    OperationPhase,
    OperationRequest,
    OperationState,
    ResultAction,
    SyncRequest,
)
from tether.engine.tracking import AppRef
from tether.model.resources import Body, ResourceKey
from tether.reconcile import dependencies
from tether.reconcile.admission import WindowHold
from tether.reconcile.apps import REFRESH_ANNOTATION, Application, AppStore
from tether.reconcile.events import Report, StepEvent
from tether.reconcile.executor import StepOutcome
from tether.reconcile.orchestrator import Orchestrator, Refreshed

log = structlog.get_logger(__name__)


@dataclass(frozen=True, kw_only=True)
class ReconcileOptions:
    full_resync_seconds: float = 1800.0  # at least this often, compare even if nothing moved
    self_heal_backoff: float = 2.0


@dataclass
class Reconciler:
    orchestrator: Orchestrator
    store: AppStore
    lookup: Callable[[AppRef], Body | None]  # the app informer's current body
    owns: Callable[[AppRef], bool]
    events: EventRecorder
    metrics: Metrics
    options: ReconcileOptions
    config: Callable[[], RuntimeConfig] = RuntimeConfig  # the runtime configuration in force
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    # What the app's inputs looked like at its last settled refresh (spec, repositories' ref
    # generations, tracked-object events); None when there is no way to tell.
    inputs: Callable[[Application], tuple[object, ...] | None] = lambda _app: None
    audit: AuditLog | None = None  # where finished syncs and detected drift are recorded
    # Asks the app's repositories for their refs now: a person's sync deploys what they just
    # pushed, not what the last poll saw (automated syncs follow the polls and webhooks).
    fresh_sources: Callable[[Application], Awaitable[None]] | None = None
    _drift_reported: dict[AppRef, set[tuple[ResourceKey, str]]] = field(default_factory=dict)
    _settled: dict[AppRef, tuple[tuple[object, ...], float]] = field(default_factory=dict)
    # Who caused the drift a running self-heal corrects, for its audit entry.
    _healing: dict[AppRef, tuple[DriftCause, ...]] = field(default_factory=dict)

    def resync(self) -> float:
        return self.config().resync_seconds * (0.9 + random.random() / 5)

    def forget(self, ref: AppRef) -> None:
        self._drift_reported.pop(ref, None)
        self._settled.pop(ref, None)
        self._healing.pop(ref, None)
        self.orchestrator.forget(ref)

    async def reconcile(self, ref: AppRef) -> float | None:
        body = self.lookup(ref)
        if body is None:
            self.forget(ref)
            return None
        if not self.owns(ref):
            return None
        app = Application(body)
        bound = log.bind(app=str(ref))
        if app.deleting:
            await self.orchestrator.finish_deletion(app)
            self.forget(ref)
            return None
        operating = app.operating
        kind = "operation" if operating else "refresh"
        bound.debug("reconcile start", kind=kind)
        try:
            with self.metrics.reconcile_duration.labels(kind).time():
                if REFRESH_ANNOTATION in app.annotations:
                    app = await self._handle_refresh_request(app)
                if operating:
                    return await self._continue_operation(app, bound)
                return await self._refresh_and_maybe_sync(app, bound)
        finally:
            bound.debug("reconcile end", kind=kind)

    async def _handle_refresh_request(self, app: Application) -> Application:
        if app.annotations.get(REFRESH_ANNOTATION) == "hard":
            render.clear_cache()  # a hard refresh re-renders from scratch
            self.orchestrator.forget(app.ref)
        return await self.store.patch(
            app.ref, {"metadata": {"annotations": {REFRESH_ANNOTATION: None}}}
        )

    # ---- operations ----------------------------------------------------------------------

    def _reporter(self, ref: AppRef, bound: structlog.typing.FilteringBoundLogger) -> Report:
        """Step events as log lines carrying app, revision and operation id (the first event of
        an operation names both; later lines repeat them)."""
        context: dict[str, str] = {}
        running = Application(self.lookup(ref) or {"metadata": {}}).operation_state
        if running is not None and not running.phase.completed:
            context.update(revision=running.revision, operation=running.id)

        def report(event: StepEvent) -> None:
            if event.operation:
                context.update(revision=event.revision, operation=event.operation)
            key = str(event.key) if event.key else None
            bound.info(event.message, step=str(event.kind), object=key, **context)

        return report

    @staticmethod
    def _new_request_by_a_person(app: Application) -> bool:
        requested, running = app.operation, app.operation_state
        if requested is None or requested.initiated_by.automated:
            return False
        return running is None or running.phase.completed

    async def _continue_operation(
        self, app: Application, bound: structlog.typing.FilteringBoundLogger
    ) -> float:
        if self.fresh_sources is not None and self._new_request_by_a_person(app):
            await self.fresh_sources(app)  # once, before the operation pins its revision
        outcome = await self.orchestrator.step(app.ref, self._reporter(app.ref, bound), app=app)
        return self._after_step(app, outcome)

    def _after_step(self, app: Application, outcome: StepOutcome) -> float:
        state = outcome.state
        if outcome.requeue_after is not None:
            return outcome.requeue_after
        if state is not None and state.phase.completed and state.id:
            # A self-heal may span several steps: whether it was one is remembered in _healing.
            self._record_result(app, state, app.ref in self._healing)
        return self.resync()

    def _record_result(self, app: Application, state: OperationState, drift: bool) -> None:
        succeeded = state.phase is OperationPhase.SUCCEEDED
        self.metrics.syncs.labels("succeeded" if succeeded else "failed").inc()
        reason = EventReason.SYNC_SUCCEEDED if succeeded else EventReason.SYNC_FAILED
        self.events.record(
            app.ref, _uid(app), reason, f"{state.message} (revision {state.revision})", "Sync"
        )
        if drift and succeeded:
            cluster = app.spec.destination.cluster
            changed = sum(1 for r in state.resources if r.action is ResultAction.CONFIGURED)
            self.metrics.drift_corrected.labels(cluster).inc(max(changed, 1))
            self.events.record(
                app.ref,
                _uid(app),
                EventReason.DRIFT_CORRECTED,
                f"self-heal restored {changed} object(s)",
            )
        # The informer holds the finalized status (history: the commit's author and message).
        finished = self.lookup(app.ref) or app.body
        self._audit(automation.sync_entry(finished, state, self._healing.pop(app.ref, None)))

    def _audit(self, entry: Entry) -> None:
        if self.audit is not None:
            self.audit.record_later(entry)  # off the event loop; a failure is logged

    # ---- refresh and automated sync ------------------------------------------------------

    async def _refresh_and_maybe_sync(
        self, app: Application, bound: structlog.typing.FilteringBoundLogger
    ) -> float:
        inputs = self.inputs(app)
        if inputs is not None and self._unchanged(app.ref, inputs):
            return self.resync()  # nothing it depends on moved: a resync costs nothing
        refreshed = await self.orchestrator.refresh(app.ref, app, write=False)
        observe = decisions.observe_only(app.annotations, self.config().observe_only)
        last = refreshed.app.operation_state
        try:
            spec = app.spec
        except (ValueError, KeyError, TypeError):
            return self.resync()  # the refresh recorded InvalidSpec
        verdict = decisions.auto_sync(
            spec, refreshed.comparison, last, observe, self.clock(), self.options.self_heal_backoff
        )
        if verdict.sync:
            verdict = decisions.within_windows(verdict, await self.orchestrator.window_hold(app))
        if verdict.sync:
            gate = await self.orchestrator.dependency_verdict(app)
            verdict = decisions.after_dependencies(verdict, gate)
        if refreshed.comparison is not None and refreshed.comparison.out_of_sync:
            bound.debug(
                "out of sync",
                reason=verdict.reason,
                diffs=[r.diff.text or str(r.key) for r in refreshed.comparison.out_of_sync],
            )
        causes: tuple[DriftCause, ...] = ()
        if verdict.drift and refreshed.comparison is not None:
            causes = self._report_drift(app, refreshed.comparison)
        if verdict.hold is not None:
            return await self._hold(refreshed, verdict.hold)
        if verdict.waiting is not None:
            # Not settled either: the dependency's change requeues the app (Controller).
            reason = dependencies.reason(verdict.waiting)
            held = self.orchestrator.held(refreshed, verdict.waiting.message, reason)
            await self.orchestrator.write_refresh(held)
            return self.resync()
        if not verdict.sync:
            await self.orchestrator.write_refresh(refreshed)
            if verdict.why is decisions.Why.SELF_HEAL_BACKOFF:
                # Not settled: the heal is only postponed, and nothing else would wake the app
                # (its inputs will not change again).
                return self.options.self_heal_backoff
            if inputs is not None and refreshed.error is None:
                self._settled[app.ref] = (inputs, time.monotonic())
            return self.resync()
        # The informer already holds this process's own last write (AppStore.observe), and no
        # other replica works this app (sharding): its copy is current enough to start from.
        fresh = Application(self.lookup(app.ref) or app.body)
        if fresh.operating:
            return 0.2  # (the sync about to start writes a newer status than this refresh)
        bound.info("automated sync", reason=verdict.reason)
        if verdict.drift:
            self._healing[app.ref] = causes
        automated = spec.sync_policy.automated
        request = OperationRequest(
            SyncRequest(prune=bool(automated and automated.prune)), InitiatedBy(automated=True)
        )
        report = self._reporter(app.ref, bound)
        state = await self.orchestrator.start(fresh, request, report, persist=False)
        if state.phase.completed:
            return self._after_step(app, StepOutcome(state, None, None))
        outcome = await self.orchestrator.step(
            app.ref, report, app=fresh, state=state, compared=refreshed.comparison
        )
        if outcome.requeue_after is not None:  # it takes a while: say that it started
            note = f"automated sync to {state.revision}: {verdict.reason}"
            self.events.record(app.ref, _uid(app), EventReason.SYNC_STARTED, note, "Sync")
        return self._after_step(app, outcome)

    async def _hold(self, refreshed: Refreshed, hold: WindowHold) -> float:
        """A sync window holds the automated sync back: say so in the conditions and come back
        when it opens. The app is not marked settled: nothing else would wake it then."""
        await self.orchestrator.write_refresh(self.orchestrator.held(refreshed, hold.message))
        if hold.until is None:
            return self.resync()
        return min(max((hold.until - self.clock()).total_seconds(), 1.0), self.resync())

    def _unchanged(self, ref: AppRef, inputs: tuple[object, ...]) -> bool:
        settled = self._settled.get(ref)
        if settled is None or settled[0] != inputs:
            return False
        return time.monotonic() - settled[1] < self.options.full_resync_seconds

    def _report_drift(self, app: Application, comparison: Comparison) -> tuple[DriftCause, ...]:
        """Report newly drifted objects; return who changed each drifted object."""
        reported = self._drift_reported.setdefault(app.ref, set())
        current = set()
        causes = []
        for res in decisions.drifted(comparison):
            culprit = decisions.who_changed(res.live)
            causes.append(_cause(res.key, culprit))
            # One drift is one write by someone else: identified by its writer and time, not by
            # resourceVersion (a status update by a controller moves that, not the drift).
            identity = (res.key, f"{culprit.manager}@{culprit.time}" if culprit else "")
            current.add(identity)
            if identity in reported:
                continue
            who = (
                f"{culprit.manager} ({culprit.operation}) at {culprit.time}"
                if culprit
                else "an unknown writer"
            )
            self.metrics.drift_detected.labels(app.spec.destination.cluster).inc()
            self.events.record(
                app.ref, _uid(app), EventReason.DRIFT_DETECTED, f"{res.key} changed by {who}"
            )
            self._audit(automation.drift_entry(app.body, causes[-1]))
        self._drift_reported[app.ref] = current
        return tuple(causes)


def _uid(app: Application) -> str:
    return str(app.metadata.get("uid", ""))


def _cause(key: ResourceKey, culprit: decisions.Culprit | None) -> DriftCause:
    if culprit is None:
        return DriftCause(object=str(key))
    return DriftCause(
        object=str(key), manager=culprit.manager, operation=culprit.operation, time=culprit.time
    )
