"""Pure decisions of the controller: sync automatically or not, and who caused a drift.

Automated sync follows Argo CD's rules, because they are what keeps an operator from looping:
never sync an app whose render or comparison failed; do not retry a revision whose automated
sync failed (a new commit or a manual sync is needed); once a revision is synced, a later
difference is drift and is corrected only with selfHeal. A sync the rules allow still waits
while the project's sync windows forbid it (`within_windows`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tether.engine.comparisons import Comparison, ResourceState, SyncStatus
from tether.engine.dependencies import Verdict as DependencyVerdict
from tether.engine.operation import OperationPhase, OperationState
from tether.model import times
from tether.model.app import AppSpec
from tether.model.resources import Body
from tether.reconcile.admission import WindowHold

OBSERVE_ONLY_ANNOTATION = "tether.dev/observe-only"
FIELD_MANAGER = "tether"


class Why(StrEnum):
    """Why an automated sync starts, or does not."""

    NO_COMPARISON = "no comparison (render or source failed)"
    SYNCED = "synced"
    OBSERVE_ONLY = "observe-only"
    MANUAL = "manual sync policy"
    RUNNING = "an operation is running"
    ONLY_PRUNE = "only pruning is needed and automated prune is off"
    FAILED_BEFORE = "the automated sync of this revision already failed"
    DRIFT_WITHOUT_SELF_HEAL = "drift without selfHeal"
    SELF_HEAL_BACKOFF = "self-heal backoff"
    SELF_HEAL = "self-heal"
    NEW_REVISION = "new revision"
    SYNC_WINDOW = "sync window"
    DEPENDENCIES = "dependencies"


@dataclass(frozen=True)
class Verdict:
    sync: bool
    why: Why
    detail: str = ""  # what the reason is about (a revision, a window's name)
    drift: bool = False  # the difference appeared after the revision was synced
    hold: WindowHold | None = None  # a sync window holds the sync back (until it opens)
    waiting: DependencyVerdict | None = None  # a dependency not Ready holds it back

    @property
    def reason(self) -> str:
        return f"{self.why} {self.detail}" if self.detail else str(self.why)


def observe_only(annotations: Mapping[str, str], controller_wide: bool) -> bool:
    return controller_wide or annotations.get(OBSERVE_ONLY_ANNOTATION, "").lower() == "true"


def auto_sync(
    spec: AppSpec,
    comparison: Comparison | None,
    last: OperationState | None,
    observe: bool,
    now: dt.datetime,
    self_heal_backoff: float = 2.0,
) -> Verdict:
    automated = spec.sync_policy.automated
    if comparison is None:
        return Verdict(False, Why.NO_COMPARISON)
    if comparison.sync_status is SyncStatus.SYNCED:
        return Verdict(False, Why.SYNCED)
    revision = str(comparison.targets.revision)
    drift = (
        last is not None and last.phase is OperationPhase.SUCCEEDED and last.revision == revision
    )
    if observe:
        return Verdict(False, Why.OBSERVE_ONLY, drift=drift)
    if automated is None:
        return Verdict(False, Why.MANUAL, drift=drift)
    if last is not None and not last.phase.completed:
        return Verdict(False, Why.RUNNING, drift=drift)
    if not [r for r in comparison.out_of_sync if r.target is not None] and not automated.prune:
        return Verdict(False, Why.ONLY_PRUNE, drift=drift)
    if (
        last is not None
        and last.phase.unsuccessful
        and last.request.initiated_by.automated
        and last.revision == revision
    ):
        return Verdict(False, Why.FAILED_BEFORE, revision, drift=drift)
    if drift:
        if not automated.self_heal:
            return Verdict(False, Why.DRIFT_WITHOUT_SELF_HEAL, drift=True)
        if last is not None and _seconds_since(last.finished_at, now) < self_heal_backoff:
            return Verdict(False, Why.SELF_HEAL_BACKOFF, drift=True)
        return Verdict(True, Why.SELF_HEAL, drift=True)
    return Verdict(True, Why.NEW_REVISION, revision)


def within_windows(verdict: Verdict, hold: WindowHold | None) -> Verdict:
    """A sync the rules allow waits while the project's sync windows forbid it."""
    if not verdict.sync or hold is None:
        return verdict
    return Verdict(False, Why.SYNC_WINDOW, hold.reason, verdict.drift, hold)


def after_dependencies(verdict: Verdict, gate: DependencyVerdict) -> Verdict:
    """A sync the rules allow waits while a dependency is not Ready; a cycle or a missing
    dependency stops it (the refresh's conditions say so)."""
    if not verdict.sync or gate.open:
        return verdict
    waiting = None if gate.stalled else gate
    return Verdict(False, Why.DEPENDENCIES, gate.message, verdict.drift, waiting=waiting)


def _seconds_since(stamp: str, now: dt.datetime) -> float:
    then = times.parse(stamp)
    return float("inf") if then is None else (now - then).total_seconds()


@dataclass(frozen=True)
class Culprit:
    manager: str
    operation: str
    time: str


def who_changed(live: Body | None) -> Culprit | None:
    """The latest field manager other than tether that wrote the object (from managedFields)."""
    entries: list[dict[str, Any]] = [
        e
        for e in ((live or {}).get("metadata") or {}).get("managedFields") or []
        if e.get("manager") != FIELD_MANAGER and e.get("subresource") != "status"
    ]
    if not entries:
        return None
    latest = max(entries, key=lambda e: str(e.get("time", "")))
    return Culprit(
        str(latest.get("manager", "")),
        str(latest.get("operation", "")),
        str(latest.get("time", "")),
    )


def drifted(comparison: Comparison) -> list[ResourceState]:
    return [r for r in comparison.out_of_sync if r.target is not None and r.live is not None]
