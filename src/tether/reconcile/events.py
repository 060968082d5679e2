"""Step events: what an operation does, as it does it, for people (CLI progress, controller logs).

Events are told, never acted on: nothing in tether branches on them. The per-object record of an
operation is its state's results; an event only says that something happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from tether.model.resources import ResourceKey


class EventKind(StrEnum):
    STAGE = "stage"  # an operation starts, or enters a group
    APPLIED = "applied"
    PRUNED = "pruned"
    HOOK = "hook"
    WAITING = "waiting"
    FAILED = "failed"
    FINISHED = "finished"


@dataclass(frozen=True)
class StepEvent:
    kind: EventKind
    message: str
    key: ResourceKey | None = None
    operation: str = ""  # set on the event that starts an operation
    revision: str = ""


Report = Callable[[StepEvent], None]


def ignore(_event: StepEvent) -> None:
    """A report that tells no one (callers that only want the result)."""
