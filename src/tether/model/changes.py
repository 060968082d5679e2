"""Reports of what a mutating step did, returned even when the step failed part-way."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tether.model.resources import ResourceKey


class Action(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Change:
    key: ResourceKey
    action: Action
    message: str = ""
    version: str = ""  # apiVersion the object was written with


@dataclass(frozen=True)
class ChangeSet:
    changes: tuple[Change, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.action != Action.FAILED for c in self.changes)

    def with_change(self, change: Change) -> ChangeSet:
        return ChangeSet((*self.changes, change), self.error)

    def failed(self, error: str) -> ChangeSet:
        return ChangeSet(self.changes, error)

    def by_action(self, action: Action) -> list[Change]:
        return [c for c in self.changes if c.action == action]
