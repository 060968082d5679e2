"""Discovery: which resource types a cluster serves, with their plural names and scope.

Uses aggregated discovery (one request for /api and one for /apis) and caches the answer; a miss
(say, a CRD created a moment ago) refreshes the cache once before giving up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@dataclass(frozen=True)
class ApiResource:
    """One resource type as served: enough to build its URL and to know whether it is namespaced."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...]
    subresources: tuple[str, ...]
    preferred: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection_path(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None) -> str:
        return f"{self.collection_path(namespace)}/{name}"


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def parse_aggregated(body: dict[str, Any]) -> list[ApiResource]:
    """Flatten an APIGroupDiscoveryList into ApiResources (the first version is preferred)."""
    resources: list[ApiResource] = []
    for group_entry in body.get("items") or []:
        group = (group_entry.get("metadata") or {}).get("name", "")
        for index, version_entry in enumerate(group_entry.get("versions") or []):
            version = version_entry["version"]
            for res in version_entry.get("resources") or []:
                kind = (res.get("responseKind") or {}).get("kind")
                if not kind:
                    continue
                resources.append(
                    ApiResource(
                        group=group,
                        version=version,
                        kind=kind,
                        plural=res["resource"],
                        namespaced=res.get("scope") == "Namespaced",
                        verbs=tuple(res.get("verbs") or ()),
                        subresources=tuple(s["subresource"] for s in res.get("subresources") or ()),
                        preferred=index == 0,
                    )
                )
    return resources


class ResourceIndex:
    """Lookup tables over one discovery snapshot."""

    def __init__(self, resources: list[ApiResource]) -> None:
        self.resources = resources
        self._by_gvk = {(r.group, r.version, r.kind): r for r in resources}
        self._preferred_by_gk = {(r.group, r.kind): r for r in resources if r.preferred}
        for r in resources:  # a kind served only in non-preferred versions still resolves
            self._preferred_by_gk.setdefault((r.group, r.kind), r)

    def lookup(self, api_version: str, kind: str) -> ApiResource | None:
        group, version = split_api_version(api_version)
        return self._by_gvk.get((group, version, kind))

    def preferred(self, group: str, kind: str) -> ApiResource | None:
        return self._preferred_by_gk.get((group, kind))
