"""The sync plan: every task of one operation, grouped and ordered, as data.

A task is one thing to do to one object: apply a target, prune a stale object, or create a hook.
Tasks carry what the comparison knew (in sync or not, shared, the live resourceVersion), so the
step machine decides without asking anyone.

Order is stage → wave → kind → name (`stages.Stage`); pruning runs in reverse wave and kind order,
so dependants go before what they depend on. Tasks of the same stage and wave form a group: a
group runs together, and the next starts when it is done and healthy.

The plan is built again at every step from a fresh comparison of the pinned revisions (cheap:
renders and diffs are cached), so it reflects the cluster as it is, not as it was at the start.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from tether.engine import hooks
from tether.engine.comparisons import Comparison, ResourceState
from tether.engine.diff import DiffAction
from tether.engine.health import HealthRules
from tether.engine.operation import OperationState, ResultAction
from tether.engine.sync import options as resource_options
from tether.engine.sync.stages import HOOK_STAGE, Stage
from tether.model.app import AppSpec, Retry, SyncOptions
from tether.model.resources import Body, ResourceKey, annotations_of

WAVE_ANNOTATION = "tether.dev/sync-wave"
EMPTY_RENDER = (
    "the render is empty; refusing to sync (it would prune everything) without allowEmpty"
)

# Kinds that others depend on come first (the order kubectl and Helm use, extended).
KIND_ORDER = (
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
    "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList",
    "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
    "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
    "IngressClass", "Ingress", "APIService",
)  # fmt: skip
_KIND_RANK = {kind: i for i, kind in enumerate(KIND_ORDER)}
PREREQUISITE_KINDS = frozenset(
    {("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")}
)
_NO_RETRY = Retry()
_PREVIEW = {
    DiffAction.CREATE: ResultAction.WOULD_CREATE,
    DiffAction.UPDATE: ResultAction.WOULD_UPDATE,
}


class PlanError(ValueError):
    """An annotation the plan cannot read (reported like a render error)."""


def wave_of(obj: Mapping[str, Any]) -> int:
    value = annotations_of(obj).get(WAVE_ANNOTATION, "0")
    try:
        return int(value)
    except ValueError:
        raise PlanError(
            f"{ResourceKey.of(obj)}: {WAVE_ANNOTATION} must be an integer, got {value!r}"
        ) from None


@dataclass(frozen=True, kw_only=True)
class ApplyTask:
    """Write a target: server-side apply, or create/replace when it must be written whole."""

    key: ResourceKey
    stage: Stage
    wave: int
    version: str  # apiVersion
    target: Body
    live_version: str = ""  # resourceVersion of the live object; "" = not live
    in_sync: bool = False  # live, and applying would change nothing
    shared_with: str = ""  # another app tracks the live object
    preview: ResultAction = ResultAction.UNCHANGED
    replace: bool = False
    validate: bool = True


@dataclass(frozen=True, kw_only=True)
class PruneTask:
    """Delete a stale object this app owns (unless `protected`)."""

    key: ResourceKey
    stage: Stage
    wave: int
    version: str
    uid: str = ""  # a precondition: never delete a namesake created since the comparison
    protected: bool = False  # Prune=false on the object or the app: released, not deleted


@dataclass(frozen=True, kw_only=True)
class HookTask:
    """Create one run of a hook and await it; `key` and `manifest` carry its concrete name."""

    key: ResourceKey
    stage: Stage
    wave: int
    version: str
    manifest: Body
    hook: hooks.HookType
    run: str
    delete_policies: frozenset[hooks.DeletePolicy]

    @property
    def awaited(self) -> bool:
        """Jobs and Pods must finish; any other hook object is done once it exists."""
        return (self.key.group, self.key.kind) in (("batch", "Job"), ("", "Pod"))


Task = ApplyTask | PruneTask | HookTask


def _kind_rank(kind: str) -> int:
    return _KIND_RANK.get(kind, len(KIND_ORDER))


def sort_key(task: Task) -> tuple[int, int, int, str, str]:
    key = task.key
    if isinstance(task, PruneTask):  # dependants first: reverse waves and kinds
        return (task.stage.rank, -task.wave, -_kind_rank(key.kind), key.namespace, key.name)
    return (task.stage.rank, task.wave, _kind_rank(key.kind), key.namespace, key.name)


@dataclass(frozen=True)
class Group:
    """Tasks that run together; the next group starts when this one is done and healthy."""

    stage: Stage
    wave: int
    tasks: tuple[Task, ...]

    @property
    def id(self) -> str:
        return f"{self.stage}/{self.wave}"

    @property
    def has_hooks(self) -> bool:
        return any(isinstance(t, HookTask) for t in self.tasks)


@dataclass(frozen=True)
class Plan:
    groups: tuple[Group, ...]  # in order; SyncFail hooks are not among them
    failure: Group | None = None  # the SyncFail hooks, run after a failure
    namespace: str = ""  # CreateNamespace: the destination namespace, created first if missing
    refusal: str = ""  # why this operation must not run at all
    retry: Retry = _NO_RETRY
    rules: HealthRules | None = None  # custom health rules for gating and hooks
    out_of_sync_only: bool = True  # ApplyOutOfSyncOnly: objects in sync are not written again
    fail_on_shared: bool = False  # FailOnSharedResource: refuse objects another app tracks

    def tasks(self) -> Iterator[Task]:
        for group in (*self.groups, *((self.failure,) if self.failure else ())):
            yield from group.tasks

    def find(self, stage: Stage, key: ResourceKey) -> Task | None:
        return next((t for t in self.tasks() if t.stage == stage and t.key == key), None)

    def index_of(self, group_id: str) -> int | None:
        return next((i for i, g in enumerate(self.groups) if g.id == group_id), None)

    def group(self, group_id: str) -> Group | None:
        index = self.index_of(group_id)
        return self.groups[index] if index is not None else None


@dataclass(frozen=True)
class Unplanned:
    """No plan could be made (the source, render or comparison failed): retry or fail."""

    message: str
    retry: Retry = _NO_RETRY


def order(tasks: Iterable[Task]) -> tuple[Group, ...]:
    """Sorted groups; SyncFail hooks are excluded here (see `failure_group`)."""
    ordered = sorted((t for t in tasks if t.stage != Stage.SYNC_FAIL), key=sort_key)
    return tuple(
        Group(stage, wave, tuple(members))
        for (stage, wave), members in groupby(ordered, key=lambda t: (t.stage, t.wave))
    )


def failure_group(tasks: Iterable[Task]) -> Group | None:
    failing = sorted((t for t in tasks if t.stage == Stage.SYNC_FAIL), key=sort_key)
    return Group(Stage.SYNC_FAIL, 0, tuple(failing)) if failing else None


# ---- building a plan from a comparison -------------------------------------------------------


def _object_options(obj: Body) -> resource_options.ResourceOptions:
    try:
        return resource_options.parse(obj)
    except resource_options.OptionError as exc:
        raise PlanError(str(exc)) from None


def apply_task(res: ResourceState, options: SyncOptions) -> ApplyTask:
    assert res.target is not None
    target = res.target
    key = res.key
    own = _object_options(target)
    live_version = str(((res.live or {}).get("metadata") or {}).get("resourceVersion", ""))
    prerequisite = (key.group, key.kind) in PREREQUISITE_KINDS
    return ApplyTask(
        key=key,
        stage=Stage.PREREQUISITES if prerequisite else Stage.SYNC,
        wave=wave_of(target),
        version=str(target.get("apiVersion", "")),
        target=target,
        live_version=live_version,
        in_sync=res.in_sync and res.live is not None,
        shared_with=str(res.shared_with) if res.shared_with is not None else "",
        preview=_PREVIEW.get(res.diff.action, ResultAction.UNCHANGED),
        replace=options.replace or own.replace,
        validate=options.validate and own.validate,
    )


def prune_task(res: ResourceState, options: SyncOptions) -> PruneTask:
    assert res.live is not None
    live = res.live
    last = options.prune_last or _live_option(live, "prune_last", default=False)
    return PruneTask(
        key=res.key,
        stage=Stage.PRUNE_LAST if last else Stage.PRUNE,
        wave=_live_wave(live),
        version=str(live.get("apiVersion", "")),
        uid=str((live.get("metadata") or {}).get("uid", "")),
        protected=not options.prune or not resource_options.prune_allowed(live),
    )


def _live_option(live: Body, name: str, default: bool) -> bool:
    """An option of a live object: not ours to refuse (it may predate a rule), so a value that
    cannot be read counts as the default."""
    try:
        return bool(getattr(resource_options.parse(live), name))
    except resource_options.OptionError:
        return default


def _live_wave(live: Body) -> int:
    try:
        return wave_of(live)
    except PlanError:
        return 0


def hook_tasks(hook_objects: Iterable[Body], operation_id: str, attempt: int) -> list[HookTask]:
    tasks = []
    for obj in hook_objects:
        try:
            types, policies = hooks.hook_types(obj), hooks.delete_policies(obj)
        except hooks.HookError as exc:
            raise PlanError(f"{ResourceKey.of(obj)}: {exc}") from None
        for hook_type in types:
            run = hooks.run_id(hook_type, attempt)
            concrete = hooks.manifest(obj, operation_id, run)
            tasks.append(
                HookTask(
                    key=ResourceKey.of(concrete),
                    stage=HOOK_STAGE[hook_type],
                    wave=wave_of(obj),
                    version=str(obj.get("apiVersion", "")),
                    manifest=concrete,
                    hook=hook_type,
                    run=run,
                    delete_policies=policies,
                )
            )
    return tasks


def prunes(spec: AppSpec, state: OperationState) -> bool:
    """Whether this operation prunes: asked to, or an automated sync of an app with prune on."""
    automated = spec.sync_policy.automated
    by_automation = state.request.initiated_by.automated and automated is not None
    return state.request.sync.prune or (by_automation and automated is not None and automated.prune)


def refusal(spec: AppSpec, comparison: Comparison) -> str:
    automated = spec.sync_policy.automated
    allow_empty = automated is not None and automated.allow_empty
    return EMPTY_RENDER if not comparison.targets.objects and not allow_empty else ""


def build(
    spec: AppSpec,
    state: OperationState,
    comparison: Comparison,
    rules: HealthRules | None = None,
) -> Plan:
    """The plan of `state`'s operation against `comparison`; PlanError for unreadable
    annotations (targets.build reports those before any sync, so this is a safety net)."""
    request = state.request.sync
    options = spec.sync_policy.options
    selected = [r for r in comparison.resources if request.selects(r.key)]
    tasks: list[Task] = [apply_task(r, options) for r in selected if r.target is not None]
    if not request.selective:  # a selective sync runs no hooks, like Argo CD
        tasks += hook_tasks(comparison.targets.hooks, state.id, state.retry_count)
    if prunes(spec, state):
        stale = [r for r in selected if r.requires_pruning and r.live is not None]
        tasks += [prune_task(r, options) for r in stale]
    return Plan(
        groups=order(tasks),
        failure=failure_group(tasks),
        namespace=spec.destination.namespace if options.create_namespace else "",
        refusal=refusal(spec, comparison),
        retry=spec.sync_policy.retry,
        rules=rules,
        out_of_sync_only=options.apply_out_of_sync_only,
        fail_on_shared=options.fail_on_shared_resource,
    )
