"""What the step machine asks for, and what the executor saw in return — all plain data.

The machine never performs an effect. It returns actions; the executor (`tether.reconcile`)
carries them out in order — consecutive cluster actions together, each `Persist` as a barrier —
and hands back what it observed: the outcome of every cluster action and the live objects the
machine will need next (`Observations`). Each action prints as one line (logs, test cases).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from tether.engine.operation import OperationPhase, OperationState
from tether.engine.sync.stages import Stage
from tether.model.changes import Action as ChangeAction
from tether.model.changes import Change
from tether.model.resources import Body, ResourceKey


@dataclass(frozen=True)
class Apply:
    stage: Stage
    key: ResourceKey
    target: Body
    replace: bool = False  # write the whole object (create, or replace at live_version)
    validate: bool = True  # False: unknown fields are dropped instead of refused
    live_version: str = ""  # the live resourceVersion a replace is conditional on

    def __str__(self) -> str:
        how = "replace" if self.replace or not self.validate else "apply"
        return f"{how} {self.key}"


@dataclass(frozen=True)
class Prune:
    stage: Stage
    key: ResourceKey
    version: str
    uid: str = ""  # delete precondition

    def __str__(self) -> str:
        return f"prune {self.key}"


@dataclass(frozen=True)
class CreateHook:
    stage: Stage
    key: ResourceKey
    manifest: Body

    def __str__(self) -> str:
        return f"create-hook {self.key}"


class HookDeletion(StrEnum):
    BEFORE_CREATION = "before-creation"  # a previous run's object stands in the way
    SUCCEEDED = "succeeded"  # delete policy HookSucceeded
    FAILED = "failed"  # delete policy HookFailed
    TERMINATED = "terminated"  # the operation was terminated while the hook ran


@dataclass(frozen=True)
class DeleteHook:
    stage: Stage
    key: ResourceKey
    version: str
    why: HookDeletion

    @property
    def waits_until_gone(self) -> bool:
        """A hook is re-created under the same name only once the old object has gone."""
        return self.why is HookDeletion.BEFORE_CREATION

    def __str__(self) -> str:
        return f"delete-hook {self.key} ({self.why})"


@dataclass(frozen=True)
class CreateNamespace:
    name: str

    @property
    def key(self) -> ResourceKey:
        return ResourceKey("", "Namespace", "", self.name)

    def __str__(self) -> str:
        return f"create-namespace {self.name}"


@dataclass(frozen=True)
class Persist:
    """Write `state` as the operation's state (a step boundary a crash may resume from)."""

    state: OperationState

    def __str__(self) -> str:
        s = self.state
        where = f" {s.group} {s.group_status}".rstrip() if s.group else ""
        return f"persist {s.phase}{where}" + (" failing" if s.failing else "")


@dataclass(frozen=True)
class Wait:
    """Nothing more to do until `until` (or until something the app depends on changes)."""

    until: dt.datetime
    reason: str = ""

    def __str__(self) -> str:
        return f"wait until {self.until:%H:%M:%S}"


@dataclass(frozen=True)
class Finish:
    phase: OperationPhase
    message: str

    def __str__(self) -> str:
        return f"finish {self.phase}"


ClusterAction = Apply | Prune | CreateHook | DeleteHook | CreateNamespace
Action = ClusterAction | Persist | Wait | Finish


@dataclass(frozen=True)
class Outcome:
    """What came of one cluster action."""

    action: ClusterAction
    change: Change
    written: Body | None = None  # what the API server returned for a write: the live object now

    @property
    def ok(self) -> bool:
        return self.change.action is not ChangeAction.FAILED


@dataclass(frozen=True)
class Watch:
    """A live object the machine needs to see before its next decision."""

    key: ResourceKey
    api_version: str
    fresh: bool = False  # read it from the API server itself, not a cache (hooks, a namespace)


@dataclass(frozen=True)
class Observations:
    now: dt.datetime
    live: Mapping[ResourceKey, Body | None] = field(default_factory=dict)
    outcomes: tuple[Outcome, ...] = ()

    def knows(self, key: ResourceKey) -> bool:
        return key in self.live

    def outcome(self, action_type: type[ClusterAction], key: ResourceKey) -> Outcome | None:
        return next(
            (o for o in self.outcomes if isinstance(o.action, action_type) and o.action.key == key),
            None,
        )


@dataclass(frozen=True)
class Decision:
    state: OperationState
    actions: tuple[Action, ...] = ()

    @property
    def settled(self) -> bool:
        """Whether this decision ends the step: it waits, or the operation is over. Otherwise
        the executor carries out the actions, observes, and asks again at once."""
        return bool(self.actions) and isinstance(self.actions[-1], Wait | Finish)
