"""Operations: a requested sync and its persisted progress.

The request lives in the Application's `.operation` field (written by the CLI, API or
automation). Once started, its whole state (pinned revision, the group being worked on, per-object
results) lives in `status.operationState`, written at the step boundaries the step machine
(`engine.sync`) asks for, so a restarted executor picks up exactly where the last one stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from tether.engine.sync.stages import Stage
from tether.model.bodies import (
    OperationBody,
    OperationStateBody,
    ResultBody,
    SelectorBody,
    SyncRequestBody,
)
from tether.model.resources import ResourceKey


class OperationPhase(StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"
    TERMINATING = "Terminating"

    @property
    def completed(self) -> bool:
        return self not in (OperationPhase.RUNNING, OperationPhase.TERMINATING)

    @property
    def unsuccessful(self) -> bool:
        return self in (OperationPhase.FAILED, OperationPhase.ERROR)


class ResultStatus(StrEnum):
    SYNCED = "Synced"
    SYNC_FAILED = "SyncFailed"
    PRUNED = "Pruned"
    PRUNE_SKIPPED = "PruneSkipped"
    RUNNING = "Running"  # hooks
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class ResultAction(StrEnum):
    """What the sync did to one object (or, in a dry run, would do)."""

    NONE = ""
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    SKIPPED = "skipped"
    FAILED = "failed"
    WOULD_CREATE = "would create"
    WOULD_UPDATE = "would update"
    WOULD_PRUNE = "would prune"

    @property
    def preview(self) -> bool:
        return self in (
            ResultAction.WOULD_CREATE,
            ResultAction.WOULD_UPDATE,
            ResultAction.WOULD_PRUNE,
        )

    @property
    def wrote(self) -> bool:
        """Whether the action changed the cluster."""
        return self in (ResultAction.CREATED, ResultAction.CONFIGURED, ResultAction.DELETED)


class GroupStatus(StrEnum):
    """Where the step machine stands in the group it works on."""

    NONE = ""  # no group entered yet (or the attempt starts over)
    APPLYING = "applying"  # entered; some of its writes may be done already
    APPLIED = "applied"  # every task has a result; awaiting health and hooks


@dataclass(frozen=True)
class Selector:
    group: str
    kind: str
    name: str
    namespace: str = ""

    def matches(self, key: ResourceKey) -> bool:
        return (
            self.group == key.group
            and self.kind == key.kind
            and self.name == key.name
            and (not self.namespace or self.namespace == key.namespace)
        )

    @classmethod
    def parse(cls, text: str) -> Selector:
        """'GROUP:KIND:NAME' or 'GROUP:KIND:NAMESPACE/NAME' (GROUP empty for the core group)."""
        parts = text.split(":")
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise ValueError(f"resource selector must be GROUP:KIND:NAME, got {text!r}")
        namespace, _, name = parts[2].rpartition("/")
        return cls(parts[0], parts[1], name, namespace)

    def to_dict(self) -> SelectorBody:
        return {
            "group": self.group,
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
        }


@dataclass(frozen=True)
class SyncRequest:
    revision: str = ""
    prune: bool = False
    dry_run: bool = False
    resources: tuple[Selector, ...] = ()
    sync_options: tuple[str, ...] = ()
    source: Mapping[str, Any] | None = None  # overrides the spec's (rollback)
    sources: tuple[Mapping[str, Any], ...] | None = None
    ignore_dependencies: bool = False  # a person syncs before the app's dependencies are Ready

    def selects(self, key: ResourceKey) -> bool:
        return not self.resources or any(s.matches(key) for s in self.resources)

    @property
    def selective(self) -> bool:
        """A sync of chosen objects only: it runs no hooks and prunes only what it names."""
        return bool(self.resources)


@dataclass(frozen=True)
class InitiatedBy:
    username: str = ""
    automated: bool = False

    def __str__(self) -> str:
        return "automated" if self.automated else (self.username or "unknown")


@dataclass(frozen=True)
class OperationRequest:
    sync: SyncRequest
    initiated_by: InitiatedBy = InitiatedBy()

    def to_dict(self) -> OperationBody:
        sync: SyncRequestBody = {"prune": self.sync.prune, "dryRun": self.sync.dry_run}
        if self.sync.revision:
            sync["revision"] = self.sync.revision
        if self.sync.resources:
            sync["resources"] = [s.to_dict() for s in self.sync.resources]
        if self.sync.sync_options:
            sync["syncOptions"] = list(self.sync.sync_options)
        if self.sync.source is not None:
            sync["source"] = dict(self.sync.source)
        if self.sync.sources is not None:
            sync["sources"] = [dict(s) for s in self.sync.sources]
        if self.sync.ignore_dependencies:
            sync["ignoreDependencies"] = True
        if self.initiated_by.automated:
            return {"sync": sync, "initiatedBy": {"automated": True}}
        return {"sync": sync, "initiatedBy": {"username": self.initiated_by.username}}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> OperationRequest:
        sync = raw.get("sync") or {}
        by = raw.get("initiatedBy") or {}
        sources = sync.get("sources")
        return cls(
            SyncRequest(
                revision=sync.get("revision", ""),
                prune=bool(sync.get("prune", False)),
                dry_run=bool(sync.get("dryRun", False)),
                resources=tuple(
                    Selector(r.get("group", ""), r["kind"], r["name"], r.get("namespace", ""))
                    for r in sync.get("resources") or ()
                ),
                sync_options=tuple(sync.get("syncOptions") or ()),
                source=sync.get("source"),
                sources=tuple(sources) if sources is not None else None,
                ignore_dependencies=bool(sync.get("ignoreDependencies", False)),
            ),
            InitiatedBy(by.get("username", ""), bool(by.get("automated", False))),
        )


def _stage(raw: str) -> Stage:
    """A persisted stage name; states written before stages were typed may hold ''."""
    try:
        return Stage(raw)
    except ValueError:
        return Stage.SYNC


@dataclass(frozen=True)
class ResourceResult:
    key: ResourceKey
    version: str
    status: ResultStatus
    message: str = ""
    stage: Stage = Stage.SYNC
    wave: int = 0
    action: ResultAction = ResultAction.NONE
    hook_type: str = ""

    def to_dict(self) -> ResultBody:
        out: ResultBody = {
            "group": self.key.group,
            "version": self.version,
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "status": str(self.status),
            "message": self.message,
            "syncPhase": str(self.stage),
            "wave": self.wave,
            "action": str(self.action),
        }
        if self.hook_type:
            out["hookType"] = self.hook_type
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ResourceResult:
        key = ResourceKey(raw.get("group", ""), raw["kind"], raw.get("namespace", ""), raw["name"])
        return cls(
            key,
            raw.get("version", ""),
            ResultStatus(raw["status"]),
            raw.get("message", ""),
            _stage(raw.get("syncPhase", "")),
            int(raw.get("wave", 0)),
            ResultAction(raw.get("action", "")),
            raw.get("hookType", ""),
        )

    @property
    def failed(self) -> bool:
        return self.status in (ResultStatus.SYNC_FAILED, ResultStatus.FAILED)


@dataclass(frozen=True)
class OperationState:
    id: str
    phase: OperationPhase
    request: OperationRequest
    started_at: str
    message: str = ""
    finished_at: str = ""
    revision: str = ""  # pinned at start; every step renders exactly this
    revisions: tuple[str, ...] = ()
    group: str = ""  # the group being worked on ("Sync/0"); "" = not started
    group_status: GroupStatus = GroupStatus.NONE
    failing: bool = False  # running SyncFail hooks after a failure
    resources: tuple[ResourceResult, ...] = field(default_factory=tuple)
    retry_count: int = 0  # also the attempt number hooks are created for
    next_attempt_at: str = ""

    def with_result(self, result: ResourceResult) -> OperationState:
        kept = tuple(r for r in self.resources if (r.key, r.stage) != (result.key, result.stage))
        return replace(self, resources=(*kept, result))

    def result_for(self, key: ResourceKey, stage: Stage) -> ResourceResult | None:
        return next((r for r in self.resources if r.key == key and r.stage == stage), None)

    def to_dict(self) -> OperationStateBody:
        return {
            "id": self.id,
            "phase": str(self.phase),
            "message": self.message,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at or None,
            "revision": self.revision,
            "revisions": list(self.revisions),
            "operation": self.request.to_dict(),
            "steps": {
                "group": self.group,
                "status": str(self.group_status),
                "failing": self.failing,
                "nextAttemptAt": self.next_attempt_at or None,
            },
            "resources": [r.to_dict() for r in self.resources],
            "retryCount": self.retry_count,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> OperationState:
        steps = raw.get("steps") or {}
        return cls(
            id=raw.get("id", ""),
            phase=OperationPhase(raw.get("phase", "Running")),
            request=OperationRequest.from_dict(raw.get("operation") or {}),
            started_at=raw.get("startedAt", ""),
            message=raw.get("message", ""),
            finished_at=raw.get("finishedAt") or "",
            revision=raw.get("revision", ""),
            revisions=tuple(raw.get("revisions") or ()),
            group=steps.get("group", ""),
            group_status=GroupStatus(steps.get("status", "")),
            failing=bool(steps.get("failing", False)),
            resources=tuple(ResourceResult.from_dict(r) for r in raw.get("resources") or ()),
            retry_count=int(raw.get("retryCount", 0)),
            next_attempt_at=steps.get("nextAttemptAt") or "",
        )
