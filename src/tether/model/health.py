"""Health statuses, ranked so that an application's health is the worst of its resources."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class HealthStatus(StrEnum):
    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"

    @property
    def rank(self) -> int:
        """Higher is worse; Unknown is worst because nothing can be promised about it."""
        return _ORDER.index(self)

    def is_worse_than(self, other: HealthStatus) -> bool:
        return self.rank > other.rank


_ORDER = list(HealthStatus)


@dataclass(frozen=True)
class HealthResult:
    status: HealthStatus
    message: str = ""


def worst(
    statuses: Iterable[HealthStatus], default: HealthStatus = HealthStatus.HEALTHY
) -> HealthStatus:
    result = default
    for status in statuses:
        if status.is_worse_than(result):
            result = status
    return result
