"""A comparison: each target and owned object with its live state, diff and health.

The reconcile layer builds it (it needs the cluster for live objects and server-side dry runs);
everything downstream reads it as data: sync status and health for the Application's status,
the sync plan, the controller's decisions. Hence it lives in the pure core.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tether.engine.diff import DiffAction, ObjectDiff
from tether.engine.tracking import AppRef
from tether.model.health import HealthResult, HealthStatus, worst
from tether.model.resources import Body, ResourceKey
from tether.model.targets import Targets


class SyncStatus(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


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
    def sync_status(self) -> SyncStatus:
        return SyncStatus.OUT_OF_SYNC if self.out_of_sync else SyncStatus.SYNCED

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


def diff_summary(comparison: Comparison) -> dict[str, list[str]]:
    """Machine-readable summary: keys by action (create, update, prune)."""
    summary: dict[str, list[str]] = {
        str(a): [] for a in (DiffAction.CREATE, DiffAction.UPDATE, DiffAction.PRUNE)
    }
    for r in comparison.resources:
        if r.diff.changed:
            summary[str(r.diff.action)].append(str(r.key))
    return summary
