"""The inventory: what an app applied and therefore owns, and what is stale.

Stale = previous inventory minus current render. Only stale objects that still carry this app's
tracking id, and are not protected by `Prune=false`, may be pruned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tether.model.resources import ResourceKey


@dataclass(frozen=True, order=True)
class Entry:
    key: ResourceKey
    version: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.key.inventory_id(), "v": self.version}


def parse(status_inventory: Mapping[str, Any] | None) -> list[Entry]:
    entries = (status_inventory or {}).get("entries") or []
    return [Entry(ResourceKey.from_inventory_id(e["id"]), e.get("v", "")) for e in entries]


def to_status(entries: Iterable[Entry]) -> dict[str, Any]:
    unique = {e.key: e for e in entries}
    return {"entries": [e.to_dict() for e in sorted(unique.values())]}


def stale(previous: Iterable[Entry], current: Iterable[ResourceKey]) -> list[Entry]:
    keep = set(current)
    return [e for e in previous if e.key not in keep]
