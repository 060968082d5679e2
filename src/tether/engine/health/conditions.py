"""Status conditions as typed values, read from any object's `status.conditions`.

Nearly every controller reports through conditions shaped like metav1.Condition (type, status,
reason, message, sometimes observedGeneration), even the older per-kind ones (DeploymentCondition,
JobCondition, ...). One reader serves every check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tether.engine.health import fields


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str = ""
    message: str = ""
    observed_generation: int | None = None

    @property
    def is_true(self) -> bool:
        return self.status == ConditionStatus.TRUE

    @property
    def is_false(self) -> bool:
        return self.status == ConditionStatus.FALSE

    @property
    def explanation(self) -> str:
        """The message, or the reason when a controller left the message empty."""
        return fields.one_line(self.message) or self.reason


def _parse(raw: Mapping[str, Any]) -> Condition:
    return Condition(
        type=fields.text(raw, "type"),
        status=fields.text(raw, "status"),
        reason=fields.text(raw, "reason"),
        message=fields.text(raw, "message"),
        observed_generation=fields.optional_int(raw, "observedGeneration"),
    )


def of(obj: Mapping[str, Any]) -> tuple[Condition, ...]:
    return tuple(_parse(raw) for raw in fields.items(obj, "status", "conditions"))


def find(obj: Mapping[str, Any], condition_type: str) -> Condition | None:
    return next((c for c in of(obj) if c.type == condition_type), None)


def true(obj: Mapping[str, Any], condition_type: str) -> Condition | None:
    """The condition when it is present and True."""
    condition = find(obj, condition_type)
    return condition if condition is not None and condition.is_true else None
