"""The engine facade: refresh, diff, sync and delete one Application.

Each entry point reads the app, runs the pipeline (targets → comparison → operation steps) and
writes what happened into the app's status. The CLI calls `sync` and loops in-process; the
controller calls `step`/`refresh` on every event and requeues as told. Status writes are few and
whole: a refresh writes only when something changed, and an operation's end writes its result,
inventory, history, sync status and health in one patch.
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
from tether.policy.projects import ProjectSpec
from tether.reconcile import compare as comparing
from tether.reconcile import orphans, projects, syncing
from tether.reconcile import status as statuses
from tether.reconcile import targets as targeting
from tether.reconcile.apps import Application, AppStore
from tether.reconcile.compare import Comparison, DiffMemo, LiveState
from tether.reconcile.projects import ProjectStore, WindowHold
from tether.reconcile.syncing import StepEvent, StepOutcome, SyncContext
from tether.reconcile.targets import SourceBackend, TargetError
from tether.secrets import keys as secret_keys
from tether.secrets.sops import AgeKeys

Report = Callable[[StepEvent], None]
_VOLATILE = ("reconciledAt",)  # fields that change on every refresh without meaning anything


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


class Engine:
    def __init__(
        self,
        store: AppStore,
        clusters: ClusterRegistry,
        git: SourceBackend,
        rules: health.HealthRules | None = None,
        clock: Callable[[], dt.datetime] = _utcnow,
        live_for: Callable[[str, KubeClient], LiveState] | None = None,
        memos: dict[AppRef, DiffMemo] | None = None,
        after_persist: Callable[[OperationState], None] = lambda _s: None,
        projects: ProjectStore | None = None,
    ) -> None:
        self.store = store
        self.clusters = clusters
        self.git = git
        self.rules = rules
        self.clock = clock
        self.live_for = live_for  # the controller's watch caches; None reads the API directly
        self.memos = memos  # the controller's per-app diff memos; None (CLI) dry-runs every time
        self.after_persist = after_persist  # called after every operation-state write (crash tests)
        # Projects live in tether's namespace: where the cluster registry reads cluster Secrets.
        self.projects = projects or ProjectStore(clusters.home, clusters.namespace)

    def now(self) -> str:
        return self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _live(self, spec: AppSpec, dest: KubeClient) -> LiveState | None:
        return self.live_for(spec.destination.cluster, dest) if self.live_for else None

    async def age_keys(self) -> AgeKeys:
        """The age keys for SOPS-encrypted manifests: the Secret `tether-sops` in tether's
        namespace on the management cluster (where Projects live), read when first needed."""
        return await secret_keys.age_keys(self.projects.kube, self.projects.namespace)

    def _memo(self, ref: AppRef) -> DiffMemo | None:
        return self.memos.setdefault(ref, DiffMemo()) if self.memos is not None else None

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
        projects.enforce(project, replace(spec, sources=sources), built)
        if owned is None:
            owned = inventory.parse(app.status.get("inventory"))
        return await comparing.compare(
            dest,
            app.ref,
            spec,
            built,
            owned,
            self.rules,
            live=self._live(spec, dest),
            memo=self._memo(app.ref),
            writer=projects.writer(project, spec, dest),
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
        status: dict[str, Any] = (
            statuses.comparison_fields(comparison, self.now()) if comparison else {}
        )
        if error is not None:
            status["sync"] = {
                **(app.status.get("sync") or {}),
                "status": "Unknown",
                "comparedAt": self.now(),
            }
        if comparison is not None and owned is None:
            adopted = statuses.adopted_inventory(app, comparison)
            if adopted is not None:
                status["inventory"] = adopted
        updates = statuses.conditions_for(app, comparison, operation, error)
        status = statuses.with_conditions(app, status, updates, self.now())
        return await orphans.noted(self, app, comparison, status), comparison, error

    async def refresh(
        self, ref: AppRef, app: Application | None = None, write: bool = True
    ) -> Refreshed:
        """Compare and record sync status, health, resources and conditions, only if they
        changed. With `write=False` the changed status is returned as `pending` instead (the
        controller skips the write when a sync is about to record a newer one)."""
        app = app or await self.store.get(ref)
        status, comparison, error = await self._compared_status(app, self.operation_state(app))
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

    # ---- sync windows --------------------------------------------------------------------

    async def window_hold(self, app: Application) -> WindowHold | None:
        """Whether the project's sync windows hold an automated sync of the app back now."""
        spec = _spec(app)
        try:
            project = await self.projects.spec(spec.project)
        except TargetError as exc:
            return WindowHold(exc.message, None)
        return projects.window_hold(project, app.ref, spec, self.clock(), manual=False)

    def held(self, refreshed: Refreshed, hold: WindowHold) -> Refreshed:
        """The refresh with conditions saying a sync window holds the automated sync back
        (pending only if that changes the status)."""
        app, comparison = refreshed.app, refreshed.comparison
        differ = (
            f"{len(comparison.out_of_sync)} object(s) differ from {comparison.targets.revision}; "
            if comparison is not None
            else ""
        )
        updates = conditions.reconciling(
            Reason.PROJECT_DENIED, f"{differ}automated sync held back: {hold.message}"
        )
        status = statuses.with_conditions(app, dict(refreshed.pending or {}), updates, self.now())
        current = {k: app.status.get(k) for k in status}
        changed = _meaningful(current) != _meaningful(status)
        return replace(refreshed, pending=status if changed else None)

    # ---- operations ----------------------------------------------------------------------

    @staticmethod
    def operation_state(app: Application) -> OperationState | None:
        raw = app.status.get("operationState")
        return OperationState.from_dict(raw) if raw else None

    def _context(
        self,
        app: Application,
        dest: KubeClient,
        report: Report,
        project: ProjectSpec,
        compared: Comparison | None = None,
    ) -> SyncContext:
        async def persist(state: OperationState) -> None:
            running = conditions.reconciling(
                Reason.SYNCING, state.message or f"sync to {state.revision}"
            )
            status = statuses.with_conditions(
                app, {"operationState": state.to_dict()}, running, self.now()
            )
            await self.store.patch_status(app.ref, status)
            self.after_persist(state)

        spec = _spec(app)
        return SyncContext(
            app=app.ref,
            spec=spec,
            dest=dest,
            git=self.git,
            persist=persist,
            report=report,
            rules=self.rules,
            now=self.clock,
            live=self._live(spec, dest),
            memo=self._memo(app.ref),
            owned=tuple(inventory.parse(app.status.get("inventory"))),
            compared=compared,
            project=project,
            writer=projects.writer(project, spec, dest),
            keys=self.age_keys,
        )

    async def _admitted(self, app: Application, request: OperationRequest) -> ProjectSpec:
        """The app's project, once it permits the sources this operation deploys."""
        spec = _spec(app)
        return await self.projects.admit(replace(spec, sources=syncing.sources_for(spec, request)))

    async def start(
        self, app: Application, request: OperationRequest, report: Report, persist: bool = True
    ) -> OperationState:
        """Pin the revisions and make the operation Running (persisted unless `persist` is off,
        see syncing.begin); an operation that cannot even start is finalized at once, and so is
        one the project refuses (its sources or destination, or a sync window now)."""
        dest = await self.destination(_spec(app))
        try:
            project = await self._admitted(app, request)
            manual = not request.initiated_by.automated
            projects.refuse_outside_window(project, app.ref, _spec(app), self.clock(), manual)
        except TargetError as exc:
            state = syncing.refused(request, exc.message, self.now())
            report(StepEvent("failed", exc.message))
        else:
            context = self._context(app, dest, report, project)
            state = await syncing.begin(context, request, persist)
        if app.operation is not None:
            await self.store.clear_operation(app.ref)
        if state.phase.completed:  # e.g. the revision cannot be resolved
            await self._finalize(app, state, None)
        return state

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
        state = state or self.operation_state(app)
        if app.operation is not None and (state is None or state.phase.completed):
            state = await self.start(app, app.operation, report)
        elif app.operation is not None and state is not None and app.operation == state.request:
            # Started, but the engine stopped before clearing the request: it is this operation.
            await self.store.clear_operation(ref)
        if state is None or state.phase.completed:
            return StepOutcome(state, None, None)
        try:
            dest = await self.destination(_spec(app))
            project = await self._admitted(app, state.request)
            outcome = await syncing.step(self._context(app, dest, report, project, compared), state)
        except TargetError as exc:
            failed = replace(
                state, phase=OperationPhase.ERROR, message=exc.message, finished_at=self.now()
            )
            outcome = StepOutcome(failed, None, None)
        if outcome.requeue_after is None and outcome.state is not None:
            await self._finalize(app, outcome.state, outcome.comparison)
        return outcome

    async def _finalize(
        self, app: Application, state: OperationState, comparison: Comparison | None
    ) -> None:
        """One write at an operation's end: its result, the inventory and history it changed,
        and the sync status, health and conditions of a comparison against the new inventory."""
        ref = app.ref
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
        compared, _, _ = await self._compared_status(app, state, owned)
        await self.store.patch_status(ref, {**compared, **patch})

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
                message = outcome.state.message if outcome.state else ""
                raise TimeoutError(f"sync still running after {timeout:.0f}s: {message}")
            await asyncio.sleep(min(outcome.requeue_after, 1.0))

    # ---- deletion ------------------------------------------------------------------------

    async def delete(
        self, ref: AppRef, cascade: bool, report: Report = lambda _e: None
    ) -> list[ResourceKey]:
        """Delete the app; with cascade, first every object it owns (and still tracks)."""
        app = await self.store.get(ref)
        deleted = await self.delete_owned(app, report) if cascade else []
        await self.store.delete(ref)
        return deleted

    async def delete_owned(
        self, app: Application, report: Report = lambda _e: None
    ) -> list[ResourceKey]:
        """Delete every object in the app's inventory that still carries its tracking id (as the
        project's service account, like every other write)."""
        spec = _spec(app)
        dest = await self.destination(spec)
        writer = projects.writer(await self.projects.spec(spec.project), spec, dest)
        owned = inventory.parse(app.status.get("inventory"))
        deleted: list[ResourceKey] = []
        for entry in sorted(
            owned, key=lambda e: plan.sort_key(plan.Task(e.key, plan.Stage.PRUNE, 0))
        ):
            if await self._delete_owned(dest, writer, app.ref, entry):
                deleted.append(entry.key)
                report(StepEvent("pruned", f"{entry.key}: deleted", entry.key))
        return deleted

    @staticmethod
    async def _delete_owned(
        dest: KubeClient, writer: KubeClient, app: AppRef, entry: inventory.Entry
    ) -> bool:
        live = await comparing.live_object(dest, entry.key, entry.version)
        if live is None or not tracking.is_owned_by(live, app):
            return False
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
