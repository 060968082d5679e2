"""An audit entry: actor, action, object, result, and for the controller's writes, what changed.

Entries are values: built by the caller, given their time and id by the store, and read back as
the same type. `to_dict` is the one JSON shape (API, `tether audit -o json`, JSON lines export).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from tether.model.principals import Principal, PrincipalKind


class Result(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"  # refused by authorization


class Action(StrEnum):
    """The actions tether records; others (dotted, `<area>.<verb>`) are allowed too."""

    APP_CREATE = "app.create"
    APP_UPDATE = "app.update"
    APP_SYNC = "app.sync"
    APP_ROLLBACK = "app.rollback"
    APP_TERMINATE = "app.terminate"
    APP_DELETE = "app.delete"
    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGOUT = "logout"
    TOKEN_CREATE = "token.create"
    TOKEN_DELETE = "token.delete"
    PROMOTION_APPROVE = "promotion.approve"
    CONTROLLER_SYNC = "controller.sync"
    CONTROLLER_DRIFT = "controller.drift"


AUTOMATED = "automated"  # `initiated_by` of what the controller started on its own


def format_time(when: dt.datetime) -> str:
    """UTC with microseconds, fixed width, so text order is time order."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


@dataclass(frozen=True, kw_only=True)
class Actor:
    name: str
    kind: PrincipalKind
    groups: tuple[str, ...] = ()

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(name=principal.name, kind=principal.kind, groups=principal.groups)


@dataclass(frozen=True, kw_only=True)
class DriftCause:
    """Who changed a live object away from Git, from its managedFields."""

    object: str  # "Deployment.apps/web/web"
    manager: str = ""  # the field manager; "" when no other writer is recorded
    operation: str = ""  # Apply or Update
    time: str = ""  # when that manager last wrote (RFC 3339, second precision)


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """What a write by the controller did: the revision it applied and what that changed."""

    revision: str = ""
    commit_author: str = ""
    commit_message: str = ""
    objects_changed: tuple[str, ...] = ()  # "Deployment.apps/ns/web configured"
    initiated_by: str = AUTOMATED  # AUTOMATED, or the user who requested the operation
    drift_corrected: bool = False
    drift: tuple[DriftCause, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "commitAuthor": self.commit_author,
            "commitMessage": self.commit_message,
            "objectsChanged": list(self.objects_changed),
            "initiatedBy": self.initiated_by,
            "driftCorrected": self.drift_corrected,
            "drift": [asdict(c) for c in self.drift],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Deployment:
        return cls(
            revision=raw["revision"],
            commit_author=raw["commitAuthor"],
            commit_message=raw["commitMessage"],
            objects_changed=tuple(raw["objectsChanged"]),
            initiated_by=raw["initiatedBy"],
            drift_corrected=raw["driftCorrected"],
            drift=tuple(DriftCause(**c) for c in raw["drift"]),
        )


@dataclass(frozen=True, kw_only=True)
class Entry:
    action: str  # an Action, or another dotted name
    actor: Actor
    result: Result = Result.SUCCEEDED
    resource: str = ""  # an authz resource: "applications", "projects", ...
    object: str = ""  # as authz names it: "team-a/web" for an application
    project: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)  # redacted when recorded
    message: str = ""
    source_ip: str = ""
    deployment: Deployment | None = None  # for the controller's writes
    time: dt.datetime | None = None  # set by the store when recorded
    id: int = 0  # set by the store; increases with every entry

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "time": format_time(self.time) if self.time else None,
            "actor": {
                "name": self.actor.name,
                "kind": str(self.actor.kind),
                "groups": list(self.actor.groups),
            },
            "action": self.action,
            "resource": self.resource,
            "object": self.object,
            "project": self.project,
            "parameters": dict(self.parameters),
            "result": str(self.result),
            "message": self.message,
            "sourceIP": self.source_ip,
        }
        if self.deployment is not None:
            out["deployment"] = self.deployment.to_dict()
        return out
