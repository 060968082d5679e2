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
from typing import Any

from tether.engine.operation import OperationPhase, OperationState
from tether.model.app import AppSpec
from tether.model.resources import Body
from tether.reconcile.compare import Comparison, ResourceState
from tether.reconcile.projects import WindowHold

OBSERVE_ONLY_ANNOTATION = "tether.dev/observe-only"
FIELD_MANAGER = "tether"


@dataclass(frozen=True)
class Verdict:
    sync: bool
    reason: str
    drift: bool = False  # the difference appeared after the revision was synced
    hold: WindowHold | None = None  # a sync window holds the sync back (until it opens)


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
        return Verdict(False, "no comparison (render or source failed)")
    if comparison.sync_status == "Synced":
        return Verdict(False, "synced")
    revision = str(comparison.targets.revision)
    drift = (
        last is not None and last.phase is OperationPhase.SUCCEEDED and last.revision == revision
    )
    if observe:
        return Verdict(False, "observe-only", drift)
    if automated is None:
        return Verdict(False, "manual sync policy", drift)
    if last is not None and not last.phase.completed:
        return Verdict(False, "an operation is running", drift)
    if not [r for r in comparison.out_of_sync if r.target is not None] and not automated.prune:
        return Verdict(False, "only pruning is needed and automated prune is off", drift)
    failed_before = last is not None and last.phase in (OperationPhase.FAILED, OperationPhase.ERROR)
    if (
        failed_before
        and last is not None
        and last.request.initiated_by.automated
        and last.revision == revision
    ):
        return Verdict(False, f"automated sync to {revision} already failed", drift)
    if drift:
        if not automated.self_heal:
            return Verdict(False, "drift without selfHeal", True)
        if last is not None and _seconds_since(last.finished_at, now) < self_heal_backoff:
            return Verdict(False, "self-heal backoff", True)
        return Verdict(True, "self-heal", True)
    return Verdict(True, f"new revision {revision}")


def within_windows(verdict: Verdict, hold: WindowHold | None) -> Verdict:
    """A sync the rules allow waits while the project's sync windows forbid it."""
    if not verdict.sync or hold is None:
        return verdict
    return Verdict(False, f"sync window: {hold.reason}", verdict.drift, hold)


def _seconds_since(stamp: str, now: dt.datetime) -> float:
    if not stamp:
        return float("inf")
    try:
        then = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return float("inf")
    return (now - then).total_seconds()


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
