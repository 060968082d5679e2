"""`KubeAPI`: the one seam between tether's reconcile pipeline and a Kubernetes API server.

`cluster.client.KubeClient` implements it over HTTP/2. Everything in `tether.reconcile` takes a
KubeAPI, never the client class, so the pipeline states exactly which verbs it uses, and any
other implementation (an agent's local connection, a recording proxy) can stand in without
touching it. The pure core (`tether.engine`) needs none of this: it decides on data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from tether.cluster.config import ClusterConfig
from tether.cluster.discovery import ApiResource, ResourceIndex

Body = dict[str, Any]
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


class ObjectPage(Protocol):
    @property
    def items(self) -> list[Body]: ...

    @property
    def resource_version(self) -> str: ...


class KubeAPI(Protocol):
    @property
    def config(self) -> ClusterConfig: ...

    def impersonating(self, user: str, groups: Sequence[str] = ()) -> KubeAPI: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        retry_conflicts: bool = True,
    ) -> Body: ...

    async def resources(self, refresh: bool = False) -> ResourceIndex: ...

    async def resource(self, api_version: str, kind: str) -> ApiResource: ...

    async def server_version(self, refresh: bool = False) -> Body: ...

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Body: ...

    async def get_or_none(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Body | None: ...

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> ObjectPage: ...

    async def create(
        self,
        obj: Mapping[str, Any],
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
    ) -> Body: ...

    async def replace(
        self,
        obj: Mapping[str, Any],
        *,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
    ) -> Body: ...

    async def apply(
        self,
        obj: Mapping[str, Any],
        *,
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
        subresource: str | None = None,
        field_validation: str = "Strict",
    ) -> Body: ...

    async def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: Any,
        *,
        content_type: str = ...,
        field_manager: str | None = None,
        subresource: str | None = None,
    ) -> Body: ...

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
        preconditions: Mapping[str, str] | None = None,
    ) -> Body | None: ...

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[Any]: ...
