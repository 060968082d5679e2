"""Lenient, typed readers for decoded Kubernetes JSON.

Health checks read half-populated objects all the time: a Deployment the controller has not seen
yet has no `status`, a hand-written fixture may put a list where a map belongs. Every reader here
returns a typed default instead of raising, so a check never fails on the shape of its input and
its own code reads as the rule it implements.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def get(obj: Mapping[str, Any], *path: str) -> Any:
    """The value at `path`, or None when any step is missing or is not a map."""
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def mapping(obj: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    value = get(obj, *path)
    return value if isinstance(value, Mapping) else {}


def items(obj: Mapping[str, Any], *path: str) -> list[Mapping[str, Any]]:
    """The maps in the list at `path` (entries that are not maps are skipped)."""
    value = get(obj, *path)
    if not isinstance(value, list):
        return []
    return [entry for entry in value if isinstance(entry, Mapping)]


def strings(obj: Mapping[str, Any], *path: str) -> list[str]:
    value = get(obj, *path)
    if not isinstance(value, list):
        return []
    return [entry for entry in value if isinstance(entry, str)]


def text(obj: Mapping[str, Any], *path: str) -> str:
    value = get(obj, *path)
    return value if isinstance(value, str) else ""


def optional_int(obj: Mapping[str, Any], *path: str) -> int | None:
    value = get(obj, *path)
    # bool is an int subclass; `replicas: true` is not a count.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def integer(obj: Mapping[str, Any], *path: str, default: int = 0) -> int:
    value = optional_int(obj, *path)
    return default if value is None else value


def flag(obj: Mapping[str, Any], *path: str) -> bool:
    return get(obj, *path) is True


def timestamp(obj: Mapping[str, Any], *path: str) -> datetime | None:
    """An RFC 3339 time as the API server writes it ('2024-05-01T10:00:00Z'), or None."""
    value = get(obj, *path)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    # Comparing naive with aware times raises; the API server always means UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def one_line(message: str) -> str:
    """Collapse a controller's multi-line message into one line for a health summary."""
    return " ".join(message.split())
