"""The sync plan: which object is applied, created as a hook, or pruned, and in what order.

Order is stage → wave → kind → name. Namespaces and CRDs go first (everything else may need
them), then PreSync hooks, the Sync phase (ordinary objects and Sync hooks), pruning, and PostSync
hooks; with PruneLast, pruning moves after PostSync. Pruning runs in reverse wave and kind order,
so dependants go before what they depend on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import groupby
from typing import Any

from tether.engine import hooks
from tether.model.resources import Body, ResourceKey, annotations_of

WAVE_ANNOTATION = "tether.dev/sync-wave"
SYNC_OPTIONS_ANNOTATION = "tether.dev/sync-options"


class Stage(StrEnum):
    PREREQUISITES = "Prerequisites"
    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    PRUNE = "Prune"
    POST_SYNC = "PostSync"
    PRUNE_LAST = "PruneLast"
    SYNC_FAIL = "SyncFail"


_STAGE_ORDER = list(Stage)

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

_HOOK_STAGE = {
    hooks.HookType.PRE_SYNC: Stage.PRE_SYNC,
    hooks.HookType.SYNC: Stage.SYNC,
    hooks.HookType.POST_SYNC: Stage.POST_SYNC,
    hooks.HookType.SYNC_FAIL: Stage.SYNC_FAIL,
}


class PlanError(ValueError):
    pass


@dataclass(frozen=True)
class Task:
    """One thing to do: `target` only = apply, `live` only with prune = delete, hook = create."""

    key: ResourceKey
    stage: Stage
    wave: int
    target: Body | None = None
    live: Body | None = None
    hook: hooks.HookType | None = None

    @property
    def is_prune(self) -> bool:
        return self.stage in (Stage.PRUNE, Stage.PRUNE_LAST)

    @property
    def version(self) -> str:
        body = self.target or self.live or {}
        return str(body.get("apiVersion", ""))


def wave_of(obj: Mapping[str, Any]) -> int:
    value = annotations_of(obj).get(WAVE_ANNOTATION, "0")
    try:
        return int(value)
    except ValueError:
        raise PlanError(
            f"{ResourceKey.of(obj)}: {WAVE_ANNOTATION} must be an integer, got {value!r}"
        ) from None


def sync_options(obj: Mapping[str, Any]) -> dict[str, str]:
    raw = annotations_of(obj).get(SYNC_OPTIONS_ANNOTATION, "")
    pairs = (p.split("=", 1) for p in raw.split(",") if "=" in p)
    return {k.strip(): v.strip() for k, v in pairs}


def prune_allowed(obj: Mapping[str, Any]) -> bool:
    return sync_options(obj).get("Prune", "true").lower() != "false"


def _kind_rank(kind: str) -> int:
    return _KIND_RANK.get(kind, len(KIND_ORDER))


def sort_key(task: Task) -> tuple[int, int, int, str, str]:
    stage = _STAGE_ORDER.index(task.stage)
    if task.is_prune:  # dependants first: reverse waves and kinds
        return (stage, -task.wave, -_kind_rank(task.key.kind), task.key.namespace, task.key.name)
    return (stage, task.wave, _kind_rank(task.key.kind), task.key.namespace, task.key.name)


def target_tasks(targets: Iterable[Body]) -> list[Task]:
    tasks = []
    for obj in targets:
        key = ResourceKey.of(obj)
        stage = Stage.PREREQUISITES if (key.group, key.kind) in PREREQUISITE_KINDS else Stage.SYNC
        tasks.append(Task(key, stage, wave_of(obj), target=obj))
    return tasks


def hook_tasks(hook_objects: Iterable[Body]) -> list[Task]:
    tasks = []
    for obj in hook_objects:
        for hook_type in hooks.hook_types(obj):
            tasks.append(
                Task(
                    ResourceKey.of(obj),
                    _HOOK_STAGE[hook_type],
                    wave_of(obj),
                    target=obj,
                    hook=hook_type,
                )
            )
    return tasks


def prune_tasks(stale: Iterable[Body], prune_last: bool) -> list[Task]:
    stage = Stage.PRUNE_LAST if prune_last else Stage.PRUNE
    return [Task(ResourceKey.of(obj), stage, wave_of(obj), live=obj) for obj in stale]


@dataclass(frozen=True)
class Group:
    """Tasks that run together; the next group starts when this one is done and healthy."""

    stage: Stage
    wave: int
    tasks: tuple[Task, ...]

    @property
    def id(self) -> str:
        return f"{self.stage}/{self.wave}"


def order(tasks: Iterable[Task]) -> list[Group]:
    """Sorted groups; SyncFail hooks are excluded here (see `failure_group`)."""
    ordered = sorted((t for t in tasks if t.stage != Stage.SYNC_FAIL), key=sort_key)
    return [
        Group(stage, wave, tuple(members))
        for (stage, wave), members in groupby(ordered, key=lambda t: (t.stage, t.wave))
    ]


def failure_group(tasks: Iterable[Task]) -> Group | None:
    failing = sorted((t for t in tasks if t.stage == Stage.SYNC_FAIL), key=sort_key)
    return Group(Stage.SYNC_FAIL, 0, tuple(failing)) if failing else None
