"""Identity of Kubernetes objects, independent of API version.

A ResourceKey names an object the way the API server's storage does: group, kind, namespace and
name (the version is only how we talk about it). Inventories, plans, diffs and health results are
all keyed by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Body = dict[str, Any]
"""A Kubernetes object as decoded JSON."""


def group_of(api_version: str) -> str:
    """'apps/v1' -> 'apps'; 'v1' -> '' (the core group)."""
    group, _, _ = api_version.rpartition("/")
    return group


@dataclass(frozen=True, order=True)
class ResourceKey:
    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ResourceKey:
        meta = obj.get("metadata") or {}
        return cls(
            group_of(str(obj.get("apiVersion", ""))),
            str(obj.get("kind", "")),
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
        )

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def inventory_id(self) -> str:
        """Flux-style inventory id: namespace_name_group_kind (no namespace: cluster-scoped)."""
        return f"{self.namespace}_{self.name}_{self.group}_{self.kind}"

    @classmethod
    def from_inventory_id(cls, entry: str) -> ResourceKey:
        # Names and namespaces cannot contain '_', groups cannot either: the split is unambiguous.
        namespace, name, group, kind = entry.split("_", 3)
        return cls(group, kind, namespace, name)

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.group_kind}/{where}{self.name}"


def name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})
