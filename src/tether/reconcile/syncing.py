"""The sync operation as a resumable step machine.

`begin` pins the revisions and persists a Running operation. Each `step` re-derives the plan from
the pinned targets (cheap: renders are cached), finds the group the persisted state points at,
and either waits for it to complete (health, hooks) or applies the next group — persisting the
state before and after every group, so an engine killed at any point resumes without repeating
work: applies are idempotent, hooks are found again by the operation id they carry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from tether.cluster import errors as api_errors
from tether.cluster.client import KubeClient
from tether.engine import health, hooks, inventory, plan
from tether.engine.operation import (
    OperationPhase,
    OperationRequest,
    OperationState,
    ResourceResult,
    ResultStatus,
)
from tether.engine.plan import Group, Task
from tether.engine.tracking import AppRef
from tether.model.app import AppSpec, Source, parse_source
from tether.model.health import HealthStatus
from tether.model.resources import Body, ResourceKey
from tether.model.revisions import ResolvedRevision
from tether.policy.projects import ProjectSpec
from tether.reconcile import compare as comparing
from tether.reconcile import projects
from tether.reconcile import targets as targeting
from tether.reconcile.compare import Comparison, ResourceState
from tether.reconcile.targets import SourceBackend, TargetError

APPLYING, APPLIED = "applying", "applied"
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class StepEvent:
    kind: str  # stage, applied, pruned, hook, waiting, failed, finished
    message: str
    key: ResourceKey | None = None
    operation: str = ""  # set on the event that starts an operation
    revision: str = ""


@dataclass(frozen=True)
class SyncContext:
    app: AppRef
    spec: AppSpec
    dest: KubeClient
    git: SourceBackend
    persist: Callable[[OperationState], Awaitable[None]]
    report: Callable[[StepEvent], None] = lambda _e: None
    rules: health.HealthRules | None = None
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    owned: tuple[inventory.Entry, ...] = ()  # inventory at the start of the step
    live: comparing.LiveState | None = None  # None: read the API directly
    memo: comparing.DiffMemo | None = None
    compared: Comparison | None = None  # a comparison the caller just made, reused if current
    project: ProjectSpec | None = None  # None: no project rules (callers outside the engine)
    writer: KubeClient | None = None  # whom writes go as (the project's service account)
    keys: targeting.KeySource | None = None  # age keys for SOPS-encrypted manifests

    @property
    def live_state(self) -> comparing.LiveState:
        return self.live or comparing.ApiLiveState(self.dest)

    @property
    def writes(self) -> KubeClient:
        """The client for every write to the destination; reads stay with `dest` (tether's own
        identity), so a service account needs no read access to what it does not touch."""
        return self.writer or self.dest

    def timestamp(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StepOutcome:
    state: OperationState | None  # None: there is no operation at all
    comparison: Comparison | None
    requeue_after: float | None  # None: the operation is complete


def sources_for(spec: AppSpec, request: OperationRequest) -> tuple[Source, ...]:
    if request.sync.sources is not None:
        return tuple(parse_source(s) for s in request.sync.sources)
    if request.sync.source is not None:
        return (parse_source(request.sync.source),)
    return spec.sources


async def begin(
    ctx: SyncContext, request: OperationRequest, persist: bool = True
) -> OperationState:
    """Pin the revisions and (unless told not to) persist a new Running operation.

    An automated sync need not persist its start: if it dies before its first persisted step,
    nothing depended on the record (no hook ran), and the next reconcile simply starts over;
    a requested sync must, because the request is cleared right after."""
    state = OperationState(
        id=uuid.uuid4().hex,
        phase=OperationPhase.RUNNING,
        request=request,
        started_at=ctx.timestamp(),
    )
    try:
        revisions = await targeting.resolve_revisions(
            sources_for(ctx.spec, request), ctx.git, request.sync.revision
        )
    except TargetError as exc:
        return await _finish(ctx, state, OperationPhase.ERROR, exc.message)
    primary = next((r for r in revisions), None)
    state = replace(
        state, revision=str(primary) if primary else "", revisions=tuple(str(r) for r in revisions)
    )
    if persist:
        await ctx.persist(state)
    ctx.report(
        StepEvent(
            "stage",
            f"operation {state.id[:8]} started at {state.revision}",
            operation=state.id,
            revision=state.revision,
        )
    )
    return state


def refused(request: OperationRequest, message: str, now: str) -> OperationState:
    """An operation the app's project does not allow: over before it began, nothing pinned."""
    return OperationState(
        id=uuid.uuid4().hex,
        phase=OperationPhase.ERROR,
        request=request,
        started_at=now,
        message=message,
        finished_at=now,
    )


async def _finish(
    ctx: SyncContext, state: OperationState, phase: OperationPhase, message: str
) -> OperationState:
    """The completed state; the caller persists it together with inventory, history and status."""
    done = replace(
        state, phase=phase, message=message, finished_at=ctx.timestamp(), next_attempt_at=""
    )
    ctx.report(StepEvent("finished" if phase is OperationPhase.SUCCEEDED else "failed", message))
    return done


async def _fail_or_retry(ctx: SyncContext, state: OperationState, message: str) -> StepOutcome:
    retry = ctx.spec.sync_policy.retry
    if retry.limit < 0 or state.retry_count < retry.limit:
        backoff = retry.backoff
        delay = min(
            backoff.duration_seconds * backoff.factor**state.retry_count,
            backoff.max_duration_seconds,
        )
        at = (ctx.now() + dt.timedelta(seconds=delay)).strftime("%Y-%m-%dT%H:%M:%SZ")
        retrying = replace(
            state,
            retry_count=state.retry_count + 1,
            group="",
            group_status="",
            failing=False,
            message=f"retrying in {delay:.0f}s (attempt {state.retry_count + 2}): {message}",
            next_attempt_at=at,
        )
        await ctx.persist(retrying)
        ctx.report(StepEvent("waiting", retrying.message))
        return StepOutcome(retrying, None, delay)
    return StepOutcome(await _finish(ctx, state, OperationPhase.FAILED, message), None, None)


# ---- planning ------------------------------------------------------------------------------


def _tasks(ctx: SyncContext, state: OperationState, comparison: Comparison) -> list[Task]:
    request = state.request.sync
    selected = [r for r in comparison.resources if request.selects(r.key)]
    tasks = plan.target_tasks(r.target for r in selected if r.target is not None)
    if not request.resources:  # a selective sync runs no hooks, like Argo CD
        tasks += plan.hook_tasks(comparison.targets.hooks)
    automated = ctx.spec.sync_policy.automated
    prune = request.prune or (
        state.request.initiated_by.automated and automated is not None and automated.prune
    )
    if prune:
        stale = [r.live for r in selected if r.requires_pruning and r.live is not None]
        tasks += plan.prune_tasks(stale, ctx.spec.sync_policy.options.prune_last)
    return tasks


# ---- applying one group --------------------------------------------------------------------


async def _apply_target(ctx: SyncContext, task: Task, res: ResourceState | None) -> ResourceResult:
    assert task.target is not None
    base = ResourceResult(
        task.key, task.version, ResultStatus.SYNCED, "", str(task.stage), task.wave
    )
    options = ctx.spec.sync_policy.options
    if res is not None and res.shared_with is not None and options.fail_on_shared_resource:
        return replace(
            base,
            status=ResultStatus.SYNC_FAILED,
            message=f"shared with application {res.shared_with}",
        )
    if res is not None and res.in_sync and res.live is not None:
        return replace(base, action="unchanged", message="unchanged")
    target = task.target
    try:
        if options.replace or not options.validate:
            live = res.live if res is not None else None
            written = await comparing.write_whole(ctx.writes, target, live, options.validate)
        else:
            written = await ctx.writes.apply(
                target, field_manager=comparing.FIELD_MANAGER, force=True, field_validation="Strict"
            )
    except (api_errors.ApiError, api_errors.UnknownResource) as exc:
        message = exc.message if isinstance(exc, api_errors.ApiError) else str(exc)
        return replace(base, status=ResultStatus.SYNC_FAILED, message=message)
    _remember_written(ctx, task.key, target, written)
    action = "created" if res is None or res.live is None else "configured"
    return replace(base, action=action, message=action)


def _remember_written(ctx: SyncContext, key: ResourceKey, target: Body, written: Body) -> None:
    """What the API server returned is the live object now: the cache and the diff memo may take
    it at once, so the refresh after a sync needs neither a GET nor a dry run."""
    ctx.live_state.observe(written)
    if ctx.memo is not None:
        ctx.memo.remember(key, target, written, written)


async def _prune(ctx: SyncContext, task: Task) -> ResourceResult:
    assert task.live is not None
    base = ResourceResult(
        task.key, task.version, ResultStatus.PRUNED, "pruned", str(task.stage), task.wave, "deleted"
    )
    if not plan.prune_allowed(task.live):
        return replace(
            base, status=ResultStatus.PRUNE_SKIPPED, action="skipped", message="Prune=false"
        )
    uid = task.live["metadata"].get("uid")
    try:
        await ctx.writes.delete(
            task.live["apiVersion"],
            task.key.kind,
            task.key.name,
            task.key.namespace or None,
            preconditions={"uid": uid} if uid else None,
        )
    except api_errors.ApiError as exc:
        return replace(base, status=ResultStatus.SYNC_FAILED, action="failed", message=exc.message)
    return base


def _hook_manifest(task: Task, operation_id: str) -> Body:
    assert task.target is not None
    meta = dict(task.target.get("metadata") or {})
    meta.pop("generateName", None)
    meta["name"] = hooks.concrete_name(task.target, operation_id)
    meta["annotations"] = {
        **(meta.get("annotations") or {}),
        hooks.OPERATION_ANNOTATION: operation_id,
    }
    return {**task.target, "metadata": meta}


async def _wait_gone(dest: KubeClient, obj: Body, seconds: float = 30.0) -> None:
    key = ResourceKey.of(obj)
    deadline = asyncio.get_running_loop().time() + seconds
    while (
        await dest.get_or_none(obj["apiVersion"], key.kind, key.name, key.namespace or None)
        is not None
    ):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{key} is still being deleted after {seconds:.0f}s")
        await asyncio.sleep(0.2)


async def _create_hook(ctx: SyncContext, task: Task, state: OperationState) -> ResourceResult:
    manifest = _hook_manifest(task, state.id)
    key = ResourceKey.of(manifest)
    base = ResourceResult(
        key,
        task.version,
        ResultStatus.RUNNING,
        "created",
        str(task.stage),
        task.wave,
        "created",
        str(task.hook),
    )
    existing = await ctx.dest.get_or_none(
        manifest["apiVersion"], key.kind, key.name, key.namespace or None
    )
    try:
        if existing is not None:
            if (existing["metadata"].get("annotations") or {}).get(
                hooks.OPERATION_ANNOTATION
            ) == state.id:
                return replace(base, message="already created by this operation")
            if hooks.DeletePolicy.BEFORE_HOOK_CREATION not in hooks.delete_policies(
                task.target or {}
            ):
                return replace(
                    base, status=ResultStatus.FAILED, message="a previous hook object exists"
                )
            await ctx.writes.delete(
                manifest["apiVersion"], key.kind, key.name, key.namespace or None
            )
            await _wait_gone(ctx.dest, manifest)
        await ctx.writes.apply(manifest, field_manager=comparing.FIELD_MANAGER, force=True)
    except (api_errors.ApiError, api_errors.UnknownResource, TimeoutError) as exc:
        return replace(base, status=ResultStatus.FAILED, message=getattr(exc, "message", str(exc)))
    return base


async def _apply_group(
    ctx: SyncContext, group: Group, state: OperationState, comparison: Comparison
) -> OperationState:
    ctx.report(StepEvent("stage", f"{group.stage} wave {group.wave}: {len(group.tasks)} object(s)"))

    async def run(task: Task) -> ResourceResult:
        if task.hook is not None:
            return await _create_hook(ctx, task, state)
        if task.is_prune:
            return await _prune(ctx, task)
        return await _apply_target(ctx, task, comparison.state(task.key))

    for result in await asyncio.gather(*(run(t) for t in group.tasks)):
        state = state.with_result(result)
        ctx.report(
            StepEvent(
                "hook"
                if result.hook_type
                else ("pruned" if result.status == ResultStatus.PRUNED else "applied"),
                f"{result.key}: {result.status} {result.message}".rstrip(),
                result.key,
            )
        )
    return state


# ---- completion of a group -----------------------------------------------------------------


async def _hook_status(ctx: SyncContext, result: ResourceResult, task: Task) -> ResultStatus:
    if result.status is not ResultStatus.RUNNING:
        return result.status
    api_version = task.version
    live = await ctx.dest.get_or_none(
        api_version, result.key.kind, result.key.name, result.key.namespace or None
    )
    if live is None:
        return ResultStatus.FAILED
    if result.key.kind not in ("Job", "Pod"):
        return ResultStatus.SUCCEEDED
    assessed = health.assess(live, ctx.rules)
    if assessed is None or assessed.status == HealthStatus.HEALTHY:
        return ResultStatus.SUCCEEDED
    if assessed.status == HealthStatus.DEGRADED:
        return ResultStatus.FAILED
    return ResultStatus.RUNNING


async def _finish_hook(
    ctx: SyncContext, result: ResourceResult, task: Task, status: ResultStatus
) -> ResourceResult:
    policies = hooks.delete_policies(task.target or {})
    delete = (
        status == ResultStatus.SUCCEEDED and hooks.DeletePolicy.HOOK_SUCCEEDED in policies
    ) or (status == ResultStatus.FAILED and hooks.DeletePolicy.HOOK_FAILED in policies)
    if delete:
        await ctx.writes.delete(
            task.version, result.key.kind, result.key.name, result.key.namespace or None
        )
    return replace(
        result, status=status, message=str(status).lower() + (" and deleted" if delete else "")
    )


async def _resource_health(
    ctx: SyncContext, key: ResourceKey, version: str
) -> tuple[HealthStatus, str]:
    live = await ctx.live_state.get(key, version)
    if live is None:
        return HealthStatus.MISSING, "not found"
    assessed = health.assess(live, ctx.rules)
    return (assessed.status, assessed.message) if assessed else (HealthStatus.HEALTHY, "")


async def _check_group(
    ctx: SyncContext, group: Group, state: OperationState, must_be_healthy: bool
) -> tuple[OperationState, str, str]:
    """('done'|'waiting'|'failed', message) for an applied group, updating hook results."""
    waiting, failed = [], []
    for task in group.tasks:
        key = ResourceKey.of(_hook_manifest(task, state.id)) if task.hook else task.key
        result = state.result_for(key, str(task.stage))
        if result is None:
            continue
        if result.failed:
            failed.append(f"{key}: {result.message}")
        elif task.hook is not None:
            status = await _hook_status(ctx, result, task)
            if status is ResultStatus.RUNNING:
                waiting.append(f"hook {key} running")
                continue
            result = await _finish_hook(ctx, result, task, status)
            state = state.with_result(result)
            ctx.report(StepEvent("hook", f"{key}: {result.message}", key))
            if result.failed:
                failed.append(f"hook {key} failed")
        elif must_be_healthy and not task.is_prune:
            condition, message = await _resource_health(ctx, task.key, task.version)
            if condition == HealthStatus.DEGRADED:
                failed.append(f"{task.key} is Degraded: {message}")
            elif condition not in (HealthStatus.HEALTHY, HealthStatus.SUSPENDED):
                waiting.append(f"{task.key} is {condition}" + (f": {message}" if message else ""))
    if failed:
        return state, "failed", "; ".join(failed)
    if waiting:
        return (
            state,
            "waiting",
            f"waiting for {group.stage} wave {group.wave}: " + "; ".join(waiting[:3]),
        )
    return state, "done", ""


# ---- the step ------------------------------------------------------------------------------


async def _comparison(ctx: SyncContext, state: OperationState) -> Comparison:
    compared = ctx.compared
    if (
        compared is not None
        and not state.group
        and state.request.sync.source is None
        and state.request.sync.sources is None
        and tuple(str(r) for r in compared.targets.revisions) == state.revisions
    ):
        return compared  # the refresh that decided to sync compared exactly this revision
    sources = sources_for(ctx.spec, state.request)
    revisions = tuple(ResolvedRevision.parse(r) for r in state.revisions)
    built = await targeting.build(
        ctx.app,
        sources,
        revisions,
        ctx.git,
        ctx.dest,
        ctx.spec.destination.namespace,
        ctx.memo.targets if ctx.memo is not None else None,
        keys=ctx.keys,
    )
    if ctx.project is not None:
        projects.enforce(ctx.project, replace(ctx.spec, sources=sources), built)
    return await comparing.compare(
        ctx.dest,
        ctx.app,
        ctx.spec,
        built,
        ctx.owned,
        ctx.rules,
        live=ctx.live_state,
        memo=ctx.memo,
        writer=ctx.writes,
    )


def _allow_empty(ctx: SyncContext) -> bool:
    automated = ctx.spec.sync_policy.automated
    return automated is not None and automated.allow_empty


async def _dry_run_only(
    ctx: SyncContext, state: OperationState, comparison: Comparison, tasks: list[Task]
) -> OperationState:
    for task in sorted(tasks, key=plan.sort_key):
        res = comparison.state(task.key)
        action = "prune" if task.is_prune else (str(res.diff.action) if res else "create")
        state = state.with_result(
            ResourceResult(
                task.key,
                task.version,
                ResultStatus.SYNCED,
                f"would {action}",
                str(task.stage),
                task.wave,
                action,
                str(task.hook or ""),
            )
        )
    return await _finish(ctx, state, OperationPhase.SUCCEEDED, "dry run: nothing was changed")


async def _ensure_namespace(ctx: SyncContext) -> None:
    name = ctx.spec.destination.namespace
    if ctx.spec.sync_policy.options.create_namespace and name:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        if await ctx.dest.get_or_none("v1", "Namespace", name) is None:
            await ctx.writes.apply(namespace, field_manager=comparing.FIELD_MANAGER)


async def step(ctx: SyncContext, state: OperationState) -> StepOutcome:
    """Advance the operation as far as it can go without waiting."""
    if state.phase.completed:
        return StepOutcome(state, None, None)
    if state.next_attempt_at:
        due = dt.datetime.strptime(state.next_attempt_at, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.UTC
        )
        if due > ctx.now():
            return StepOutcome(state, None, (due - ctx.now()).total_seconds())
        state = replace(state, next_attempt_at="")
    try:
        comparison = await _comparison(ctx, state)
    except TargetError as exc:
        return await _fail_or_retry(ctx, state, exc.message)
    if not comparison.targets.objects and not _allow_empty(ctx):
        message = (
            "the render is empty; refusing to sync (it would prune everything) without allowEmpty"
        )
        return StepOutcome(
            await _finish(ctx, state, OperationPhase.FAILED, message), comparison, None
        )
    tasks = _tasks(ctx, state, comparison)
    if state.request.sync.dry_run:
        return StepOutcome(await _dry_run_only(ctx, state, comparison, tasks), comparison, None)
    if not state.group:
        await _ensure_namespace(ctx)
    return await _advance(ctx, state, comparison, tasks)


def _has_hooks(group: Group) -> bool:
    return any(t.hook is not None for t in group.tasks)


async def _advance(
    ctx: SyncContext, state: OperationState, comparison: Comparison, tasks: list[Task]
) -> StepOutcome:
    """Apply and await groups in order. The state is persisted around groups with hooks (so no
    hook ever runs twice) and whenever the operation has to wait; applies and prunes are
    idempotent, so a crash elsewhere only repeats harmless work."""
    groups = plan.order(tasks)
    if state.failing:
        return await _run_failure_hooks(ctx, state, comparison, tasks)
    index = next((i for i, g in enumerate(groups) if g.id == state.group), -1)
    if state.group and index < 0:
        message = f"group {state.group} vanished"
        return StepOutcome(
            await _finish(ctx, state, OperationPhase.ERROR, message), comparison, None
        )
    persisted = state
    while True:
        if index >= 0:
            group = groups[index]
            if state.group_status == APPLYING:  # resumed mid-group: re-apply, idempotently
                state = await _apply_group(ctx, group, state, comparison)
                state = replace(state, group_status=APPLIED)
                if _has_hooks(group):
                    await ctx.persist(persisted := state)
            has_next = index + 1 < len(groups)
            state, verdict, message = await _check_group(
                ctx, group, state, must_be_healthy=has_next
            )
            if verdict == "waiting":
                state = replace(state, message=message)
                if state != persisted:
                    await ctx.persist(state)
                    ctx.report(StepEvent("waiting", message))
                return StepOutcome(state, comparison, POLL_SECONDS)
            if verdict == "failed":
                return await _start_failure(ctx, state, comparison, tasks, message)
            if _has_hooks(group) and state != persisted:
                await ctx.persist(persisted := state)  # hook results are final: never re-run
        index += 1
        if index >= len(groups):
            outcome = await _finish(
                ctx, state, OperationPhase.SUCCEEDED, "successfully synced (all tasks run)"
            )
            return StepOutcome(outcome, comparison, None)
        group = groups[index]
        state = replace(
            state, group=group.id, group_status=APPLYING, message=f"applying {group.id}"
        )
        if _has_hooks(group):
            await ctx.persist(persisted := state)


async def _start_failure(
    ctx: SyncContext, state: OperationState, comparison: Comparison, tasks: list[Task], message: str
) -> StepOutcome:
    failure = plan.failure_group(tasks)
    if failure is None:
        return await _fail_or_retry(ctx, state, message)
    state = replace(state, failing=True, group=failure.id, group_status=APPLYING, message=message)
    await ctx.persist(state)
    return await _run_failure_hooks(ctx, state, comparison, tasks)


async def _run_failure_hooks(
    ctx: SyncContext, state: OperationState, comparison: Comparison, tasks: list[Task]
) -> StepOutcome:
    failure = plan.failure_group(tasks)
    if failure is not None:
        if state.group_status == APPLYING:
            original = state.message
            state = await _apply_group(ctx, failure, state, comparison)
            state = replace(state, group_status=APPLIED, message=original)
            await ctx.persist(state)
        state, verdict, _ = await _check_group(ctx, failure, state, must_be_healthy=False)
        if verdict == "waiting":
            await ctx.persist(state)
            return StepOutcome(state, comparison, POLL_SECONDS)
    return await _fail_or_retry(ctx, replace(state, failing=False), state.message)
