"""Turning a comparison, an operation and errors into the Application's status.

Pure functions over results: the callers write what these return through the status
subresource. The conditions follow kstatus, with one reason constant per situation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tether.engine import conditions, history, inventory, tracking
from tether.engine.comparisons import Comparison, ResourceState, SyncStatus
from tether.engine.conditions import Condition, Reason
from tether.engine.operation import OperationState, ResultStatus
from tether.engine.sync import plans
from tether.model.bodies import ResourceStatusBody
from tether.model.health import HealthResult, HealthStatus
from tether.reconcile.apps import Application
from tether.reconcile.targets import TargetError


def _resource(r: ResourceState) -> ResourceStatusBody:
    entry: ResourceStatusBody = {
        "group": r.key.group,
        "version": r.version,
        "kind": r.key.kind,
        "namespace": r.key.namespace,
        "name": r.key.name,
        "status": str(SyncStatus.SYNCED if r.in_sync else SyncStatus.OUT_OF_SYNC),
    }
    if r.health is not None:
        entry["health"] = {"status": str(r.health.status), "message": r.health.message}
    if r.requires_pruning:
        entry["requiresPruning"] = True
    return entry


def refusal(app: Application, comparison: Comparison) -> str:
    """Why no sync of this comparison would be allowed ("" if one would): an empty render
    without allowEmpty. Such an app is neither Synced nor Healthy, whatever still runs."""
    try:
        return plans.refusal(app.spec, comparison)
    except (ValueError, KeyError, TypeError):
        return ""  # an invalid spec is reported as such


def comparison_fields(
    app: Application, comparison: Comparison | None, error: TargetError | None, now: str
) -> dict[str, Any]:
    """Sync status, health and resources; without a comparison, sync is Unknown and the rest
    stays as last recorded."""
    if comparison is None:
        return {"sync": {**(app.status.get("sync") or {}), "status": "Unknown", "comparedAt": now}}
    targets = comparison.targets
    health: HealthResult = comparison.health
    sync_status = comparison.sync_status
    refused = refusal(app, comparison)
    if refused:
        sync_status, health = SyncStatus.UNKNOWN, HealthResult(HealthStatus.UNKNOWN, refused)
    return {
        "sync": {
            "status": str(sync_status),
            "revision": str(targets.revision),
            "revisions": [str(r) for r in targets.revisions],
            "comparedAt": now,
        },
        "health": {"status": str(health.status), "message": health.message},
        "resources": [_resource(r) for r in sorted(comparison.resources, key=lambda r: r.key)],
    }


def conditions_for(
    app: Application,
    comparison: Comparison | None,
    operation: OperationState | None,
    error: TargetError | None,
) -> list[Condition]:
    if error is not None:
        return conditions.failed(error.reason, error.message, error.stalled)
    if operation is not None and not operation.phase.completed:
        return conditions.reconciling(Reason.SYNCING, operation.message or "sync running")
    refused = refusal(app, comparison) if comparison is not None else ""
    if refused:
        return conditions.failed(Reason.EMPTY_RENDER, refused, stalled=True)
    if (
        operation is not None
        and operation.phase.unsuccessful
        and (comparison is None or comparison.sync_status is not SyncStatus.SYNCED)
    ):
        return conditions.failed(
            Reason.SYNC_FAILED, f"last sync failed: {operation.message}", stalled=True
        )
    if comparison is None:
        return conditions.reconciling(Reason.PROGRESSING, "not compared yet")
    return _settled(app, comparison)


def _settled(app: Application, comparison: Comparison) -> list[Condition]:
    revision = comparison.targets.revision
    if comparison.sync_status is not SyncStatus.SYNCED:
        count = len(comparison.out_of_sync)
        message = f"{count} object(s) differ from {revision}"
        if app.spec.sync_policy.automated is not None:
            return conditions.reconciling(Reason.OUT_OF_SYNC, message)
        return conditions.not_ready(Reason.OUT_OF_SYNC, message)
    health = comparison.health
    if health.status in (HealthStatus.HEALTHY, HealthStatus.SUSPENDED):
        return conditions.ready(f"synced to {revision}, {health.status}")
    if health.status in (HealthStatus.PROGRESSING, HealthStatus.MISSING):
        return conditions.reconciling(
            Reason.PROGRESSING, health.message or f"health is {health.status}"
        )
    return conditions.not_ready(Reason.UNHEALTHY, health.message or f"health is {health.status}")


def with_conditions(
    app: Application, status: dict[str, Any], updates: Iterable[Condition], now: str
) -> dict[str, Any]:
    merged = conditions.merge(app.status.get("conditions") or [], updates, now, app.generation)
    return {
        **status,
        "conditions": merged,
        "observedGeneration": app.generation,
        "reconciledAt": now,
    }


def next_inventory(
    previous: Iterable[inventory.Entry], operation: OperationState
) -> dict[str, Any]:
    """Owned after an operation: what it applied joins, what it pruned (or released) leaves."""
    entries = {e.key: e for e in previous}
    for result in operation.resources:
        if result.hook_type:
            continue
        if result.status is ResultStatus.SYNCED and not result.action.preview:
            entries[result.key] = inventory.Entry(result.key, result.version)
        elif result.status in (ResultStatus.PRUNED, ResultStatus.PRUNE_SKIPPED):
            entries.pop(result.key, None)
    return inventory.to_status(entries.values())


def adopted_inventory(app: Application, comparison: Comparison) -> dict[str, Any] | None:
    """The inventory plus every target that is live and carries this app's tracking id, if that
    adds anything. An operation that died before recording what it applied (or objects adopted
    from elsewhere) thus still ends up owned, and prunable later."""
    owned = {e.key: e for e in inventory.parse(app.status.get("inventory"))}
    found = [
        inventory.Entry(r.key, r.version)
        for r in comparison.resources
        if r.target is not None
        and r.live is not None
        and r.key not in owned
        and tracking.is_owned_by(r.live, app.ref)
    ]
    if not found:
        return None
    return inventory.to_status([*owned.values(), *found])


def history_after(
    app: Application,
    operation: OperationState,
    commit: Mapping[str, str],
    sources: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    by = operation.request.initiated_by
    entry: dict[str, Any] = {
        "revision": operation.revision,
        "revisions": list(operation.revisions),
        "deployedAt": operation.finished_at,
        "initiatedBy": {"automated": True} if by.automated else {"username": by.username},
        "author": commit.get("author", ""),
        "message": commit.get("message", ""),
    }
    if len(sources) == 1:
        entry["source"] = sources[0]
    else:
        entry["sources"] = sources
    return history.append(app.status.get("history") or [], entry, app.spec.revision_history_limit)
