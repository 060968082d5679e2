"""Short constructors for health results, so each check reads as a list of rules."""

from __future__ import annotations

from tether.engine.health import fields
from tether.model.health import HealthResult, HealthStatus


def healthy(message: str = "") -> HealthResult:
    return HealthResult(HealthStatus.HEALTHY, fields.one_line(message))


def suspended(message: str) -> HealthResult:
    return HealthResult(HealthStatus.SUSPENDED, fields.one_line(message))


def progressing(message: str) -> HealthResult:
    return HealthResult(HealthStatus.PROGRESSING, fields.one_line(message))


def degraded(message: str) -> HealthResult:
    return HealthResult(HealthStatus.DEGRADED, fields.one_line(message))


def unknown(message: str) -> HealthResult:
    return HealthResult(HealthStatus.UNKNOWN, fields.one_line(message))


def joined(*parts: str) -> str:
    """'ReplicaSet "web" has timed out' from ('', 'ReplicaSet "web" has timed out'): skip blanks."""
    return ": ".join(part for part in parts if part)
