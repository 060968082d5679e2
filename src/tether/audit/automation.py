"""The controller's audit entries: a finished sync, and drift it detected.

Built from what the controller has at hand (the Application as it stands after the operation,
the operation's state, who changed drifted objects), working on the raw Application so this
module depends only on the operation values of `engine.operation`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tether.audit.entries import (
    AUTOMATED,
    Action,
    Actor,
    Deployment,
    DriftCause,
    Entry,
    Result,
)
from tether.engine.operation import OperationPhase, OperationState
from tether.model.principals import CONTROLLER

APPLICATIONS = "applications"
_CHANGES = ("created", "configured", "deleted")  # per-object actions that wrote something


def app_object(app: Mapping[str, Any]) -> tuple[str, str]:
    """(project, "<project>/<name>"): how authorization and the audit trail name an app."""
    project = str((app.get("spec") or {}).get("project") or "default")
    return project, f"{project}/{(app.get('metadata') or {}).get('name', '')}"


def commit_of(app: Mapping[str, Any], revision: str) -> tuple[str, str]:
    """(author, message) of the commit at revision, from the app's history (the sync that
    deployed it recorded them); empty when it is not there (a failed sync)."""
    for entry in reversed((app.get("status") or {}).get("history") or []):
        if entry.get("revision") == revision:
            return str(entry.get("author", "")), str(entry.get("message", ""))
    return "", ""


def objects_changed(state: OperationState) -> tuple[str, ...]:
    return tuple(
        f"{r.key} {r.action}" for r in state.resources if r.action in _CHANGES and not r.hook_type
    )


def sync_entry(
    app: Mapping[str, Any], state: OperationState, drift: Iterable[DriftCause] | None = None
) -> Entry:
    """A finished operation; `drift` is given when it was a self-heal (None: it was not)."""
    project, obj = app_object(app)
    author, message = commit_of(app, state.revision)
    changed = objects_changed(state)
    by = state.request.initiated_by
    healed = drift is not None
    return Entry(
        action=Action.CONTROLLER_SYNC,
        actor=Actor.of(CONTROLLER),
        result=Result.SUCCEEDED if state.phase is OperationPhase.SUCCEEDED else Result.FAILED,
        resource=APPLICATIONS,
        object=obj,
        project=project,
        parameters={"operation": state.id, "prune": state.request.sync.prune},
        message=f"{'self-heal: ' if healed else ''}{state.phase}: {state.message}",
        deployment=Deployment(
            revision=state.revision,
            commit_author=author,
            commit_message=message,
            objects_changed=changed,
            initiated_by=AUTOMATED if by.automated else by.username,
            drift_corrected=healed,
            drift=tuple(drift or ()),
        ),
    )


def drift_entry(app: Mapping[str, Any], cause: DriftCause) -> Entry:
    """A live object that no longer matches the revision the app was synced to."""
    project, obj = app_object(app)
    revision = str(((app.get("status") or {}).get("sync") or {}).get("revision", ""))
    who = f"{cause.manager} ({cause.operation}) at {cause.time}" if cause.manager else "unknown"
    return Entry(
        action=Action.CONTROLLER_DRIFT,
        actor=Actor.of(CONTROLLER),
        resource=APPLICATIONS,
        object=obj,
        project=project,
        message=f"{cause.object} changed by {who}",
        deployment=Deployment(revision=revision, drift=(cause,)),
    )
