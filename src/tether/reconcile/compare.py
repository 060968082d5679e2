"""Comparison: each target and owned object with its live state, server-side diff and health.

The diff is a server-side dry-run apply of the target (as tether's field manager, forcing, like
the real sync) compared with the live object. Objects that cannot be dry-run yet because their
namespace or CRD is created by this very sync are compared against the target as written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tether.cluster import errors as api_errors
from tether.cluster.client import KubeClient
from tether.engine import diff, health, ignore, inventory, plan, tracking
from tether.engine.conditions import Reason
from tether.engine.diff import DiffAction, ObjectDiff
from tether.engine.tracking import AppRef
from tether.model.app import AppSpec
from tether.model.health import HealthResult, HealthStatus, worst
from tether.model.resources import Body, ResourceKey
from tether.reconcile.targets import TargetError, Targets

FIELD_MANAGER = "tether"


@dataclass(frozen=True)
class ResourceState:
    key: ResourceKey
    version: str
    target: Body | None  # what a sync applies (tracked, ignore-respecting); None = stale
    live: Body | None
    diff: ObjectDiff
    health: HealthResult | None
    requires_pruning: bool = False
    prune_protected: bool = False
    shared_with: AppRef | None = None  # tracked by another app

    @property
    def in_sync(self) -> bool:
        return not self.diff.changed and not self.requires_pruning


@dataclass(frozen=True)
class Comparison:
    targets: Targets
    resources: tuple[ResourceState, ...]

    @property
    def out_of_sync(self) -> list[ResourceState]:
        return [
            r
            for r in self.resources
            if not r.in_sync and (r.target is not None or r.requires_pruning)
        ]

    @property
    def sync_status(self) -> str:
        return "OutOfSync" if self.out_of_sync else "Synced"

    @property
    def health(self) -> HealthResult:
        unhealthy = [r for r in self.resources if r.target is not None and r.health is not None]
        status = worst(r.health.status for r in unhealthy if r.health is not None)
        messages = [
            f"{r.key}: {r.health.message}"
            for r in unhealthy
            if r.health is not None and r.health.status == status and r.health.message
        ]
        return HealthResult(
            status, messages[0] if status != HealthStatus.HEALTHY and messages else ""
        )

    def state(self, key: ResourceKey) -> ResourceState | None:
        return next((r for r in self.resources if r.key == key), None)


def _created_by_this_sync(
    targets: Targets, create_namespace: str
) -> tuple[set[str], set[tuple[str, str]]]:
    namespaces = {o["metadata"]["name"] for o in targets.objects if o.get("kind") == "Namespace"}
    if create_namespace:
        namespaces.add(create_namespace)
    crd_kinds = {
        (o["spec"]["group"], o["spec"]["names"]["kind"])
        for o in targets.objects
        if o.get("kind") == "CustomResourceDefinition"
    }
    return namespaces, crd_kinds


def api_version_of(group: str, version: str) -> str:
    """'apps' + 'v1' -> 'apps/v1'; a full apiVersion is returned unchanged."""
    if "/" in version or not group:
        return version
    return f"{group}/{version}"


async def live_object(dest: KubeClient, key: ResourceKey, version: str) -> Body | None:
    """The live object, or None; `version` may be a bare version or a full apiVersion."""
    try:
        return await dest.get_or_none(
            api_version_of(key.group, version), key.kind, key.name, key.namespace or None
        )
    except api_errors.UnknownResource:
        return None


async def dry_run(dest: KubeClient, target: Body, validate: bool) -> Body:
    return await dest.apply(
        target,
        field_manager=FIELD_MANAGER,
        force=True,
        dry_run=True,
        field_validation="Strict" if validate else "Ignore",
    )


def _health(live: Body | None, rules: health.HealthRules | None) -> HealthResult | None:
    if live is None:
        return HealthResult(HealthStatus.MISSING, "not created yet")
    return health.assess(live, rules)


async def _compare_target(
    dest: KubeClient,
    spec: AppSpec,
    app: AppRef,
    target: Body,
    pending: tuple[set[str], set[tuple[str, str]]],
    rules: health.HealthRules | None,
) -> ResourceState:
    key = ResourceKey.of(target)
    version = str(target["apiVersion"]).rpartition("/")[2]
    live = await live_object(dest, key, version)
    applicable = ignore.rules_for(spec.ignore_differences, key)
    if live is not None and spec.sync_policy.options.respect_ignore_differences and applicable:
        target = ignore.respect(target, live, applicable)
    owner = tracking.owner(live) if live is not None else None
    namespaces, crd_kinds = pending
    if (key.namespace in namespaces or (key.group, key.kind) in crd_kinds) and live is None:
        predicted = target  # cannot be dry-run before its namespace/CRD exists
    else:
        try:
            predicted = await dry_run(dest, target, spec.sync_policy.options.validate)
        except api_errors.ApiError as exc:
            raise TargetError(
                Reason.DRY_RUN_FAILED, f"{key}: {exc.message}", stalled=exc.status < 500
            ) from exc
    return ResourceState(
        key,
        version,
        target,
        live,
        diff.compare(key, live, predicted, spec.ignore_differences),
        _health(live, rules),
        shared_with=owner if owner is not None and owner != app else None,
    )


async def _compare_stale(
    dest: KubeClient, entry: inventory.Entry, app: AppRef
) -> ResourceState | None:
    live = await live_object(dest, entry.key, entry.version)
    if live is None or not tracking.is_owned_by(live, app):
        return None  # gone already, or no longer ours: never pruned
    return ResourceState(
        entry.key,
        entry.version,
        None,
        live,
        diff.compare(entry.key, live, None),
        None,
        requires_pruning=True,
        prune_protected=not plan.prune_allowed(live),
    )


async def compare(
    dest: KubeClient,
    app: AppRef,
    spec: AppSpec,
    targets: Targets,
    owned: Iterable[inventory.Entry],
    rules: health.HealthRules | None = None,
) -> Comparison:
    create_ns = spec.destination.namespace if spec.sync_policy.options.create_namespace else ""
    pending = _created_by_this_sync(targets, create_ns)
    stale = inventory.stale(owned, targets.keys())
    current: Sequence[ResourceState] = await asyncio.gather(
        *(_compare_target(dest, spec, app, t, pending, rules) for t in targets.objects)
    )
    gone: Sequence[ResourceState | None] = await asyncio.gather(
        *(_compare_stale(dest, e, app) for e in stale)
    )
    return Comparison(targets, (*current, *(g for g in gone if g is not None)))


def diff_summary(comparison: Comparison) -> dict[str, list[str]]:
    """Machine-readable summary: keys by action (create, update, prune)."""
    summary: dict[str, list[str]] = {
        str(a): [] for a in (DiffAction.CREATE, DiffAction.UPDATE, DiffAction.PRUNE)
    }
    for r in comparison.resources:
        if r.diff.changed:
            summary[str(r.diff.action)].append(str(r.key))
    return summary
