"""The orchestrator: refresh, diff, sync, terminate and delete one Application.

Each entry point reads the app, runs the pipeline — targets at the app's (or the operation's
pinned) revisions → comparison → the sync step machine, carried out by the executor — and writes
what happened into the app's status. The CLI runs an operation to its end in-process (`sync`)
when no controller is responsible for the app; the controller calls `step`/`refresh` on every
event and comes back when told.

Status writes are few and whole: a refresh writes only when something changed, and an
operation's end writes its result, inventory, history, sync status and health in one patch.
Writes of the operation's state are conditional on the app's resourceVersion (`_Cursor`), so a
terminate request written meanwhile is heard, never overwritten.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog

from tether.cluster import errors as api_errors
from tether.cluster.api import KubeAPI
from tether.cluster.registry import ClusterRegistry, UnknownCluster
from tether.engine import conditions, health, inventory, tracking
from tether.engine.comparisons import Comparison
from tether.engine.conditions import Reason
from tether.engine.dependencies import Gate, Verdict
from tether.engine.operation import OperationPhase, OperationRequest, OperationState
from tether.engine.sync import options as resource_options
from tether.engine.sync import plans
from tether.engine.sync.plans import Plan, Unplanned
from tether.engine.sync.stages import Stage
from tether.engine.tracking import AppRef
from tether.failures import internal_error
from tether.model import times
from tether.model.app import AppSpec, Source, parse_source
from tether.model.resources import ResourceKey
from tether.model.revisions import ResolvedRevision
from tether.model.targets import primary_index
from tether.policy.projectspecs import ProjectSpec
from tether.reconcile import admission, dependencies, orphans
from tether.reconcile import compare as comparing
from tether.reconcile import status as statuses
from tether.reconcile import targets as targeting
from tether.reconcile.admission import ProjectStore, WindowHold
from tether.reconcile.apps import FINALIZER, Application, AppStore
from tether.reconcile.compare import DiffMemo, LiveState
from tether.reconcile.events import EventKind, Report, StepEvent, ignore
from tether.reconcile.executor import Executor, PersistAnswer, Persisted, StepOutcome
from tether.reconcile.targets import SourceBackend, TargetError
from tether.secrets import keys as secret_keys
from tether.secrets.sops import AgeKeys

log = structlog.get_logger(__name__)
_VOLATILE = ("reconciledAt",)  # fields that change on every refresh without meaning anything
_CONFLICT_RETRIES = 5


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class NothingToTerminate(Exception):
    """The app has no operation that is running or requested."""


@dataclass(frozen=True)
class Refreshed:
    app: Application
    comparison: Comparison | None
    error: TargetError | None
    pending: dict[str, Any] | None = None  # a changed status not written yet (write=False)


def _spec(app: Application) -> AppSpec:
    try:
        return app.spec
    except (ValueError, KeyError, TypeError) as exc:
        raise TargetError(Reason.INVALID_SPEC, f"invalid spec: {exc}", stalled=True) from exc


def _meaningful(status: dict[str, Any]) -> dict[str, Any]:
    """A status without timestamps that move on every refresh, for change detection."""
    trimmed = {k: v for k, v in status.items() if k not in _VOLATILE}
    if isinstance(trimmed.get("sync"), dict):
        trimmed["sync"] = {k: v for k, v in trimmed["sync"].items() if k != "comparedAt"}
    return trimmed


def sources_for(spec: AppSpec, request: OperationRequest) -> tuple[Source, ...]:
    """The sources an operation deploys: the request's (a rollback's), else the spec's."""
    if request.sync.sources is not None:
        return tuple(parse_source(s) for s in request.sync.sources)
    if request.sync.source is not None:
        return (parse_source(request.sync.source),)
    return spec.sources


def refused(request: OperationRequest, message: str, now: str) -> OperationState:
    """An operation that cannot begin (its project refuses it, its revision cannot be resolved):
    over before it began."""
    return OperationState(
        id=uuid.uuid4().hex,
        phase=OperationPhase.ERROR,
        request=request,
        started_at=now,
        message=message,
        finished_at=now,
    )


class _Cursor:
    """The app as this process last wrote or read it, so its writes can carry its
    resourceVersion: a write made against an older version is refused and re-read."""

    def __init__(self, orchestrator: Orchestrator, app: Application) -> None:
        self.orchestrator = orchestrator
        self.app = app

    async def persist(self, state: OperationState) -> PersistAnswer:
        store = self.orchestrator.store
        for _ in range(_CONFLICT_RETRIES):
            running = conditions.reconciling(
                Reason.SYNCING, state.message or f"sync to {state.revision}"
            )
            status = statuses.with_conditions(
                self.app,
                {"operationState": state.to_dict()},
                running,
                self.orchestrator.now(),
            )
            try:
                self.app = await store.patch_status(self.app.ref, status, self.app.resource_version)
            except api_errors.Conflict:
                self.app = await store.get(self.app.ref)
                answer = _after_conflict(self.app.operation_state, state)
                if answer is not None:
                    return answer
                continue
            self.orchestrator.after_persist(state)
            return PersistAnswer(Persisted.WRITTEN)
        raise RuntimeError(f"the status of {self.app.ref} kept changing while it was written")

    async def write(self, status: dict[str, Any]) -> Application:
        """A final status write: conflicts are re-read and written again (the operation is
        over; nothing written meanwhile can change what it did)."""
        store = self.orchestrator.store
        for _ in range(_CONFLICT_RETRIES):
            try:
                self.app = await store.patch_status(self.app.ref, status, self.app.resource_version)
                return self.app
            except api_errors.Conflict:
                self.app = await store.get(self.app.ref)
        raise RuntimeError(f"the status of {self.app.ref} kept changing while it was written")


def _after_conflict(current: OperationState | None, ours: OperationState) -> PersistAnswer | None:
    """What a conflicting write of `ours` means, given the operation status holds now; None
    when the conflict was someone else's unrelated write (write again)."""
    if current is None:
        return None
    if current.id == ours.id and current.phase is OperationPhase.TERMINATING:
        return PersistAnswer(Persisted.TERMINATING, current)
    if current.id == ours.id and current.phase.completed:
        return PersistAnswer(Persisted.SUPERSEDED, current)
    if current.id != ours.id and not current.phase.completed:
        return PersistAnswer(Persisted.SUPERSEDED, current)  # another operation runs
    return None


class Orchestrator:
    def __init__(
        self,
        store: AppStore,
        clusters: ClusterRegistry,
        git: SourceBackend,
        projects: ProjectStore,
        *,
        rules: Callable[[], health.HealthRules | None] = lambda: None,
        clock: Callable[[], dt.datetime] = _utcnow,
        live_for: Callable[[str, KubeAPI], LiveState] | None = None,
        memos: dict[AppRef, DiffMemo] | None = None,
        after_persist: Callable[[OperationState], None] = lambda _s: None,
        apps: dependencies.Lookup | None = None,
    ) -> None:
        self.store = store
        self.clusters = clusters
        self.git = git
        self.projects = projects  # in tether's namespace, where cluster Secrets live too
        self.rules = rules  # the custom health rules in force now (configuration may change)
        self.clock = clock
        self.live_for = live_for  # the controller's watch caches; None reads the API directly
        self.memos = memos  # per-app diff memos (a CLI command keeps one for its own run)
        self.after_persist = after_persist  # told after every operation-state write
        self.apps = apps or self._read_app  # how other Applications are read (dependencies)
        # The controller compares far more often than a CLI: there, listings of orphans are reused.
        self.orphans = orphans.Orphans(projects, self.destination, reuse=live_for is not None)

    def now(self) -> str:
        return times.stamp(self.clock())

    async def _read_app(self, ref: AppRef) -> dict[str, Any] | None:
        found = await self.store.get_or_none(ref)
        return found.body if found is not None else None

    async def dependency_verdict(self, app: Application) -> Verdict:
        """What the app's dependencies say about syncing it now (open when it has none, when
        its spec cannot be read, or when they cannot be looked up: the sync then decides)."""
        try:
            return await dependencies.verdict(app, self.apps)
        except (ValueError, KeyError, TypeError):
            return Verdict(Gate.OPEN)  # an invalid spec is reported as such
        except api_errors.ApiError as exc:
            log.warning("dependencies not looked up", app=str(app.ref), error=str(exc))
            return Verdict(Gate.OPEN)

    def _live(self, spec: AppSpec, dest: KubeAPI) -> LiveState | None:
        return self.live_for(spec.destination.cluster, dest) if self.live_for else None

    def forget(self, ref: AppRef) -> None:
        """Drop what is remembered about an app (deleted, or a hard refresh)."""
        if self.memos is not None:
            self.memos.pop(ref, None)
        self.orphans.forget(ref)

    async def age_keys(self) -> AgeKeys:
        """The age keys for SOPS-encrypted manifests: the Secret `tether-sops` in tether's
        namespace on the management cluster (where Projects live), read when first needed."""
        return await secret_keys.age_keys(self.projects.kube, self.projects.namespace)

    def _memo(self, ref: AppRef) -> DiffMemo | None:
        return self.memos.setdefault(ref, DiffMemo()) if self.memos is not None else None

    async def destination(self, spec: AppSpec) -> KubeAPI:
        try:
            return await self.clusters.client(spec.destination.cluster)
        except UnknownCluster as exc:
            raise TargetError(Reason.CLUSTER_UNAVAILABLE, str(exc), stalled=True) from exc

    # ---- comparison: the one pipeline refresh, diff and sync share ---------------------------

    async def compare(
        self,
        app: Application,
        revision: str = "",
        sources: Sequence[Source] | None = None,
        git: SourceBackend | None = None,
        owned: Sequence[inventory.Entry] | None = None,
    ) -> Comparison:
        """Targets at the spec's (or the given) revision compared with the live cluster;
        `sources` and `git` replace the spec's sources and the Git backend (for --local), `owned`
        the inventory recorded in the status."""
        spec = _spec(app)
        sources = tuple(sources) if sources is not None else spec.sources
        git = git or self.git
        project = await self.projects.admit(replace(spec, sources=sources))
        dest = await self.destination(spec)
        revisions = await targeting.resolve_revisions(sources, git, revision)
        return await self._comparison(app, spec, sources, revisions, git, project, dest, owned)

    async def _comparison(
        self,
        app: Application,
        spec: AppSpec,
        sources: Sequence[Source],
        revisions: Sequence[ResolvedRevision],
        git: SourceBackend,
        project: ProjectSpec,
        dest: KubeAPI,
        owned: Sequence[inventory.Entry] | None = None,
    ) -> Comparison:
        memo = self._memo(app.ref)
        built = await targeting.build(
            app.ref,
            sources,
            revisions,
            git,
            dest,
            spec.destination.namespace,
            memo.targets if memo is not None and git is self.git else None,
            keys=self.age_keys,
        )
        admission.enforce(project, replace(spec, sources=tuple(sources)), built)
        if owned is None:
            owned = inventory.parse(app.status.get("inventory"))
        return await comparing.compare(
            dest,
            app.ref,
            spec,
            built,
            owned,
            self.rules(),
            live=self._live(spec, dest),
            memo=memo,
            writer=admission.writer(project, spec, dest),
        )

    async def _compared_status(
        self,
        app: Application,
        operation: OperationState | None,
        owned: Sequence[inventory.Entry] | None = None,
    ) -> tuple[dict[str, Any], Comparison | None, TargetError | None]:
        """The status fields and conditions a fresh comparison gives."""
        comparison, error = None, None
        try:
            comparison = await self.compare(app, owned=owned)
        except TargetError as exc:
            error = exc
        now = self.now()
        status = statuses.comparison_fields(app, comparison, error, now)
        if comparison is not None and owned is None:
            adopted = statuses.adopted_inventory(app, comparison)
            if adopted is not None:
                status["inventory"] = adopted
        gate = await self.dependency_verdict(app)
        status.update(dependencies.status_field(app, gate))
        stop = error or (dependencies.refusal(gate) if gate.stalled else None)
        updates = statuses.conditions_for(app, comparison, operation, stop)
        status = statuses.with_conditions(app, status, updates, now)
        return await self.orphans.noted(app, comparison, status, now), comparison, error

    def _unforeseen(self, app: Application, exc: Exception) -> tuple[dict[str, Any], TargetError]:
        """The status of an app whose comparison failed as nobody foresaw: sync Unknown and a
        condition (InternalError) saying so in one line."""
        error = TargetError(Reason.INTERNAL_ERROR, internal_error(exc), stalled=False)
        now = self.now()
        fields = statuses.comparison_fields(app, None, error, now)
        updates = conditions.failed(error.reason, error.message, error.stalled)
        return statuses.with_conditions(app, fields, updates, now), error

    async def refresh(
        self, ref: AppRef, app: Application | None = None, write: bool = True
    ) -> Refreshed:
        """Compare and record sync status, health, resources and conditions, only if they
        changed. With `write=False` the changed status is returned as `pending` instead (the
        controller skips the write when a sync is about to record a newer one)."""
        app = app or await self.store.get(ref)
        try:
            status, comparison, error = await self._compared_status(app, app.operation_state)
        except Exception as exc:  # an unforeseen failure still shows on the app, in one line
            log.exception("refresh failed", app=str(ref))
            comparison, (status, error) = None, self._unforeseen(app, exc)
        current = {k: app.status.get(k) for k in status}
        if _meaningful(current) == _meaningful(status):
            return Refreshed(app, comparison, error)
        refreshed = Refreshed(app, comparison, error, pending=status)
        return await self.write_refresh(refreshed) if write else refreshed

    async def write_refresh(self, refreshed: Refreshed) -> Refreshed:
        if refreshed.pending is None:
            return refreshed
        app = await self.store.patch_status(refreshed.app.ref, refreshed.pending)
        return Refreshed(app, refreshed.comparison, refreshed.error)

    # ---- sync windows ------------------------------------------------------------------------

    async def window_hold(self, app: Application) -> WindowHold | None:
        """Whether the project's sync windows hold an automated sync of the app back now."""
        spec = _spec(app)
        try:
            project = await self.projects.spec(spec.project)
        except TargetError as exc:
            return WindowHold(exc.message, None)
        return admission.window_hold(project, app.ref, spec, self.clock(), manual=False)

    def held(
        self, refreshed: Refreshed, why: str, reason: Reason = Reason.PROJECT_DENIED
    ) -> Refreshed:
        """The refresh with conditions saying the automated sync is held back (a sync window,
        a dependency not Ready), pending only if that changes the status."""
        app, comparison = refreshed.app, refreshed.comparison
        differ = (
            f"{len(comparison.out_of_sync)} object(s) differ from {comparison.targets.revision}; "
            if comparison is not None
            else ""
        )
        updates = conditions.reconciling(reason, f"{differ}automated sync held back: {why}")
        status = statuses.with_conditions(app, dict(refreshed.pending or {}), updates, self.now())
        current = {k: app.status.get(k) for k in status}
        changed = _meaningful(current) != _meaningful(status)
        return replace(refreshed, pending=status if changed else None)

    # ---- operations --------------------------------------------------------------------------

    async def _admitted(self, app: Application, request: OperationRequest) -> ProjectSpec:
        """The app's project, once it permits the sources this operation deploys."""
        spec = _spec(app)
        return await self.projects.admit(replace(spec, sources=sources_for(spec, request)))

    async def start(
        self, app: Application, request: OperationRequest, report: Report, persist: bool = True
    ) -> OperationState:
        """Pin the revisions and make the operation Running (persisted unless `persist` is off:
        an automated sync that dies before its first step boundary has nothing to resume, and
        the next reconcile starts it over); an operation that cannot even start is finalized at
        once, and so is one the project refuses (its sources or destination, or a window)."""
        state, _ = await self._start(app, request, report, persist)
        return state

    async def _start(
        self, app: Application, request: OperationRequest, report: Report, persist: bool
    ) -> tuple[OperationState, Application]:
        cursor = _Cursor(self, app)
        try:
            state = await self._begin(app, request, report)
        except TargetError as exc:
            state = refused(request, exc.message, self.now())
            report(StepEvent(EventKind.FAILED, exc.message))
        except Exception as exc:  # unforeseen: the request still ends, as an Error, visibly
            log.exception("an operation failed to start", app=str(app.ref))
            state = refused(request, internal_error(exc), self.now())
            report(StepEvent(EventKind.FAILED, state.message))
        if persist and not state.phase.completed:
            answer = await cursor.persist(state)
            if answer.verdict is not Persisted.WRITTEN and answer.state is not None:
                return answer.state, cursor.app  # another operation took the app meanwhile
        if app.operation is not None:
            await self._clear_request(cursor, request)
        if state.phase.completed:
            await self._finalize(cursor, state, None)
        return state, cursor.app

    async def _begin(
        self, app: Application, request: OperationRequest, report: Report
    ) -> OperationState:
        spec = _spec(app)
        await self.destination(spec)
        project = await self._admitted(app, request)
        manual = not request.initiated_by.automated
        admission.refuse_outside_window(project, app.ref, spec, self.clock(), manual)
        if not request.sync.ignore_dependencies:
            gate = await self.dependency_verdict(app)
            if not gate.open:
                raise dependencies.refusal(gate)
        sources = sources_for(spec, request)
        revisions = await targeting.resolve_revisions(sources, self.git, request.sync.revision)
        primary = str(revisions[primary_index(sources)]) if revisions else ""
        state = OperationState(
            id=uuid.uuid4().hex,
            phase=OperationPhase.RUNNING,
            request=request,
            started_at=self.now(),
            revision=primary,
            revisions=tuple(str(r) for r in revisions),
        )
        started = f"operation {state.id[:8]} started at {state.revision}"
        report(StepEvent(EventKind.STAGE, started, operation=state.id, revision=state.revision))
        return state

    async def _clear_request(self, cursor: _Cursor, request: OperationRequest) -> None:
        """Clear `.operation` if it still holds the request that was started (a newer request
        written meanwhile stays for the next operation)."""
        for _ in range(_CONFLICT_RETRIES):
            if cursor.app.operation != request:
                return
            try:
                cursor.app = await self.store.clear_operation(
                    cursor.app.ref, cursor.app.resource_version
                )
                return
            except api_errors.Conflict:
                cursor.app = await self.store.get(cursor.app.ref)

    async def step(
        self,
        ref: AppRef,
        report: Report,
        app: Application | None = None,
        state: OperationState | None = None,
        compared: Comparison | None = None,
    ) -> StepOutcome:
        """One step of the app's running operation (starting it if one is requested). `app` and
        `state` spare a GET when the caller has them fresh: the operation's own writes touch only
        its state and conditions, so the rest of the app is current for the whole operation."""
        app = app or await self.store.get(ref)
        state = state or app.operation_state
        requested = app.operation
        cursor = _Cursor(self, app)
        if requested is not None and (state is None or state.phase.completed):
            state, cursor.app = await self._start(app, requested, report, persist=True)
        elif requested is not None and state is not None and requested == state.request:
            # Started, but the executor stopped before clearing the request: it is this one.
            await self._clear_request(cursor, requested)
        if state is None or state.phase.completed:
            return StepOutcome(state, None, None)
        try:
            outcome = await self._step(cursor, state, report, compared)
        except TargetError as exc:
            outcome = StepOutcome(
                _ended(state, OperationPhase.ERROR, exc.message, self), None, None
            )
        except Exception as exc:  # anything unforeseen ends the operation, visibly
            log.exception("sync step failed", app=str(ref), operation=state.id)
            message = internal_error(exc)
            report(StepEvent(EventKind.FAILED, message))
            outcome = StepOutcome(_ended(state, OperationPhase.ERROR, message, self), None, None)
        ended = outcome.state
        if ended is not None and ended.id == state.id and ended.phase.completed:
            await self._finalize(cursor, ended, outcome.comparison)
        return outcome

    async def _step(
        self,
        cursor: _Cursor,
        state: OperationState,
        report: Report,
        compared: Comparison | None,
    ) -> StepOutcome:
        app = cursor.app
        spec = _spec(app)
        dest = await self.destination(spec)
        project = await self._admitted(app, state.request)
        comparison: Comparison | None = None
        plan: Plan | Unplanned
        try:
            comparison = await self._operation_comparison(app, spec, state, project, dest, compared)
            plan = plans.build(spec, state, comparison, self.rules())
        except TargetError as exc:
            plan = Unplanned(exc.message, spec.sync_policy.retry)
        except plans.PlanError as exc:
            plan = Unplanned(str(exc), spec.sync_policy.retry)
        executor = Executor(
            dest=dest,
            writer=admission.writer(project, spec, dest),
            live=self._live(spec, dest) or comparing.ApiLiveState(dest),
            persist=cursor.persist,
            memo=self._memo(app.ref),
            report=report,
            clock=self.clock,
        )
        persisted = app.operation_state
        written = persisted if persisted is not None and persisted.id == state.id else None
        return await executor.step(state, plan, comparison, written)

    async def _operation_comparison(
        self,
        app: Application,
        spec: AppSpec,
        state: OperationState,
        project: ProjectSpec,
        dest: KubeAPI,
        compared: Comparison | None,
    ) -> Comparison:
        """The comparison at the operation's pinned revisions (the caller's own, if it just
        compared exactly those)."""
        request = state.request.sync
        pinned = tuple(str(r) for r in compared.targets.revisions) if compared else ()
        if (
            compared is not None
            and not state.group
            and request.source is None
            and request.sources is None
            and pinned == state.revisions
        ):
            return compared
        sources = sources_for(spec, state.request)
        revisions = tuple(ResolvedRevision.parse(r) for r in state.revisions)
        return await self._comparison(app, spec, sources, revisions, self.git, project, dest)

    async def _finalize(
        self, cursor: _Cursor, state: OperationState, comparison: Comparison | None
    ) -> None:
        """One write at an operation's end: its result, the inventory and history it changed,
        and the sync status, health and conditions of a comparison against the new inventory."""
        app = cursor.app
        owned = inventory.parse(app.status.get("inventory"))
        patch: dict[str, Any] = {"operationState": state.to_dict()}
        if not state.request.sync.dry_run:
            patch["inventory"] = statuses.next_inventory(owned, state)
            owned = inventory.parse(patch["inventory"])
            if state.phase is OperationPhase.SUCCEEDED and comparison is not None:
                commit = comparison.targets.commit
                patch["history"] = statuses.history_after(
                    app,
                    state,
                    {"author": commit.author, "message": commit.message},
                    _history_sources(app, state),
                )
        try:
            compared, _, _ = await self._compared_status(app, state, owned)
        except Exception as exc:  # the operation's own result is written whatever else fails
            log.exception("comparison after the operation failed", app=str(app.ref))
            compared, _ = self._unforeseen(app, exc)
        await cursor.write({**compared, **patch})

    async def sync(
        self,
        ref: AppRef,
        request: OperationRequest,
        report: Report = ignore,
        timeout: float = 600.0,
    ) -> OperationState:
        """Request a sync and run it in-process to completion (when no controller runs it)."""
        await self.store.request_operation(ref, request)
        return await self.run_to_end(ref, report, timeout)

    async def run_to_end(self, ref: AppRef, report: Report, timeout: float) -> OperationState:
        """Step the app's operation in-process until it completes."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            outcome = await self.step(ref, report)
            if outcome.requeue_after is None:
                if outcome.state is None:
                    raise RuntimeError("the operation vanished before it started")
                return outcome.state
            if asyncio.get_running_loop().time() > deadline:
                message = outcome.state.message if outcome.state else ""
                raise TimeoutError(f"sync still running after {timeout:.0f}s: {message}")
            await asyncio.sleep(min(outcome.requeue_after, 1.0))

    async def terminate(self, ref: AppRef, by: str) -> OperationState | None:
        """Ask the running operation to stop at its next step boundary (whoever runs it hears
        it there); a request not yet started is withdrawn instead (None is returned)."""
        for _ in range(_CONFLICT_RETRIES):
            app = await self.store.get(ref)
            state = app.operation_state
            try:
                if app.operation is not None and (state is None or state.phase.completed):
                    await self.store.clear_operation(ref, app.resource_version)
                    return None
                if state is None or state.phase.completed:
                    raise NothingToTerminate(f"application {ref.name} has no running operation")
                if state.phase is OperationPhase.TERMINATING:
                    return state
                terminating = replace(
                    state, phase=OperationPhase.TERMINATING, message=f"terminate requested by {by}"
                )
                status = {"operationState": terminating.to_dict()}
                await self.store.patch_status(ref, status, app.resource_version)
                return terminating
            except api_errors.Conflict:
                continue
        raise RuntimeError(f"the status of {ref} kept changing")

    # ---- deletion ----------------------------------------------------------------------------

    async def delete(
        self, ref: AppRef, cascade: bool, report: Report = ignore
    ) -> list[ResourceKey]:
        """Delete the app; with cascade, first every object it owns (and still tracks)."""
        app = await self.store.get(ref)
        deleted = await self.delete_owned(app, report) if cascade else []
        await self.store.delete(ref)
        return deleted

    async def finish_deletion(self, app: Application, report: Report = ignore) -> list[ResourceKey]:
        """For an app being deleted that holds the resources finalizer: delete the objects it
        owns, then let the app go (remove the finalizer, at the version it was read)."""
        finalizers = list(app.metadata.get("finalizers") or [])
        if not app.deleting or FINALIZER not in finalizers:
            return []
        deleted = await self.delete_owned(app, report)
        remaining = {"finalizers": [f for f in finalizers if f != FINALIZER]}
        await self.store.patch(app.ref, {"metadata": remaining}, app.resource_version)
        self.forget(app.ref)
        return deleted

    async def delete_owned(self, app: Application, report: Report = ignore) -> list[ResourceKey]:
        """Delete every object in the app's inventory that still carries its tracking id and
        does not say Delete=false (as the project's service account, like every other write)."""
        spec = _spec(app)
        dest = await self.destination(spec)
        writer = admission.writer(await self.projects.spec(spec.project), spec, dest)
        owned = inventory.parse(app.status.get("inventory"))
        deleted: list[ResourceKey] = []
        for entry in sorted(owned, key=_deletion_order):
            if await _delete_owned(dest, writer, app.ref, entry):
                deleted.append(entry.key)
                report(StepEvent(EventKind.PRUNED, f"{entry.key}: deleted", entry.key))
        return deleted


def _ended(
    state: OperationState, phase: OperationPhase, message: str, orchestrator: Orchestrator
) -> OperationState:
    return replace(
        state, phase=phase, message=message, finished_at=orchestrator.now(), next_attempt_at=""
    )


def _deletion_order(entry: inventory.Entry) -> tuple[int, int, int, str, str]:
    task = plans.PruneTask(key=entry.key, stage=Stage.PRUNE, wave=0, version=entry.version)
    return plans.sort_key(task)


async def _delete_owned(
    dest: KubeAPI, writer: KubeAPI, app: AppRef, entry: inventory.Entry
) -> bool:
    live = await comparing.live_object(dest, entry.key, entry.version)
    if live is None or not tracking.is_owned_by(live, app):
        return False
    if not resource_options.delete_allowed(live):
        return False  # Delete=false: it outlives the app
    try:
        await writer.delete(
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
