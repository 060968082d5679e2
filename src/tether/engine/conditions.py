"""kstatus conditions (Ready, Reconciling, Stalled) with reason constants.

Ready says whether the app is where Git says it should be and healthy; Reconciling says work is
under way (and which stage); Stalled says no progress is possible without a change to the spec or
the source (a render error, an invalid spec). Transition times only move when a status changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ConditionType(StrEnum):
    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    # A warning beside kstatus: set while there are orphans, removed (see `without`) after.
    ORPHANED_RESOURCE_WARNING = "OrphanedResourceWarning"


class Reason(StrEnum):
    SUCCEEDED = "ReconciliationSucceeded"
    PROGRESSING = "Progressing"
    SYNCING = "Syncing"
    OUT_OF_SYNC = "OutOfSync"
    UNHEALTHY = "Unhealthy"
    SOURCE_UNAVAILABLE = "SourceUnavailable"
    RENDER_FAILED = "RenderFailed"
    EMPTY_RENDER = "EmptyRender"
    DRY_RUN_FAILED = "DryRunFailed"
    SYNC_FAILED = "SyncFailed"
    INVALID_SPEC = "InvalidSpec"
    CLUSTER_UNAVAILABLE = "ClusterUnavailable"
    PROJECT_DENIED = "ProjectDenied"
    DELETING = "Deleting"
    DEPENDENCY_NOT_READY = "DependencyNotReady"
    DEPENDENCY_CYCLE = "DependencyCycle"
    DEPENDENCY_MISSING = "DependencyMissing"
    INTERNAL_ERROR = "InternalError"  # a failure nobody anticipated: a bug, reported not hidden
    ORPHANED_RESOURCES = "OrphanedResources"


@dataclass(frozen=True)
class Condition:
    type: ConditionType
    status: bool | None  # None = Unknown
    reason: Reason
    message: str = ""

    @property
    def status_text(self) -> str:
        return "Unknown" if self.status is None else str(self.status)


def merge(
    existing: Iterable[Mapping[str, Any]], updates: Iterable[Condition], now: str, generation: int
) -> list[dict[str, Any]]:
    """Existing conditions with `updates` applied; types not updated are kept as they are (see
    `without` for dropping one). Ready comes first, then Reconciling, Stalled, then the rest."""
    by_type = {str(c.get("type")): dict(c) for c in existing}
    for cond in updates:
        old = by_type.get(cond.type)
        changed = old is None or old.get("status") != cond.status_text
        by_type[cond.type] = {
            "type": str(cond.type),
            "status": cond.status_text,
            "reason": str(cond.reason),
            "message": cond.message[:32768],
            "lastTransitionTime": now
            if changed or old is None
            else old.get("lastTransitionTime", now),
            "observedGeneration": generation,
        }
    order = [str(t) for t in ConditionType]
    return sorted(
        by_type.values(),
        key=lambda c: (order.index(c["type"]) if c["type"] in order else 99, c["type"]),
    )


def without(conditions: Iterable[Mapping[str, Any]], type_: ConditionType) -> list[dict[str, Any]]:
    """The conditions but the one of `type_`: how a warning that no longer holds leaves."""
    return [dict(c) for c in conditions if c.get("type") != type_]


def find(conditions: Iterable[Mapping[str, Any]], type_: ConditionType) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def ready(message: str) -> list[Condition]:
    return [
        Condition(ConditionType.READY, True, Reason.SUCCEEDED, message),
        Condition(ConditionType.RECONCILING, False, Reason.SUCCEEDED, ""),
        Condition(ConditionType.STALLED, False, Reason.SUCCEEDED, ""),
    ]


def reconciling(reason: Reason, message: str) -> list[Condition]:
    return [
        Condition(ConditionType.READY, False, reason, message),
        Condition(ConditionType.RECONCILING, True, reason, message),
        Condition(ConditionType.STALLED, False, reason, ""),
    ]


def not_ready(reason: Reason, message: str) -> list[Condition]:
    """Settled but not Ready (out of sync without automation, unhealthy): not working on it."""
    return [
        Condition(ConditionType.READY, False, reason, message),
        Condition(ConditionType.RECONCILING, False, reason, ""),
        Condition(ConditionType.STALLED, False, reason, ""),
    ]


def failed(reason: Reason, message: str, stalled: bool) -> list[Condition]:
    """A failure: Stalled when retrying cannot help, otherwise still Reconciling (will retry)."""
    return [
        Condition(ConditionType.READY, False, reason, message),
        Condition(ConditionType.RECONCILING, not stalled, reason, "" if stalled else message),
        Condition(ConditionType.STALLED, stalled, reason, message if stalled else ""),
    ]
