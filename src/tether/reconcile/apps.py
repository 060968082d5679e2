"""Reading and writing Application objects (spec, operation request, status subresource)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from tether import crds
from tether.cluster.client import MERGE_PATCH, KubeClient
from tether.engine.operation import OperationRequest
from tether.engine.tracking import AppRef
from tether.model.app import AppSpec, parse_spec
from tether.model.resources import Body

KIND = "Application"
REFRESH_ANNOTATION = "tether.dev/refresh"
OBSERVE_ONLY_ANNOTATION = "tether.dev/observe-only"


@dataclass(frozen=True)
class Application:
    body: Body

    @property
    def ref(self) -> AppRef:
        meta = self.body["metadata"]
        return AppRef(meta["namespace"], meta["name"])

    @cached_property
    def spec(self) -> AppSpec:
        """The parsed spec; ValueError/KeyError/TypeError mean an invalid spec."""
        return parse_spec(self.body.get("spec") or {})

    @property
    def raw_spec(self) -> Mapping[str, Any]:
        return self.body.get("spec") or {}

    @property
    def generation(self) -> int:
        return int(self.body["metadata"].get("generation", 0))

    @property
    def status(self) -> Mapping[str, Any]:
        return self.body.get("status") or {}

    @property
    def operation(self) -> OperationRequest | None:
        raw = self.body.get("operation")
        return OperationRequest.from_dict(raw) if raw else None

    @property
    def annotations(self) -> Mapping[str, str]:
        return self.body["metadata"].get("annotations") or {}

    @property
    def deleting(self) -> bool:
        return bool(self.body["metadata"].get("deletionTimestamp"))


class AppStore:
    """Application CRUD through one KubeClient (the management cluster).

    `observe` sees every body a write returns, so a cache of Applications (the controller's
    informer) is never older than this process's own last write."""

    def __init__(self, kube: KubeClient, observe: Callable[[Body], None] = lambda _b: None) -> None:
        self.kube = kube
        self.observe = observe

    def _seen(self, body: Body) -> Application:
        self.observe(body)
        return Application(body)

    async def get(self, ref: AppRef) -> Application:
        return Application(await self.kube.get(crds.API_VERSION, KIND, ref.name, ref.namespace))

    async def get_or_none(self, ref: AppRef) -> Application | None:
        body = await self.kube.get_or_none(crds.API_VERSION, KIND, ref.name, ref.namespace)
        return Application(body) if body is not None else None

    async def list(
        self, namespace: str | None = None, label_selector: str | None = None
    ) -> list[Application]:
        listed = await self.kube.list(
            crds.API_VERSION, KIND, namespace, label_selector=label_selector
        )
        return [Application(b) for b in listed.items]

    async def create(self, body: Body) -> Application:
        return Application(await self.kube.create(body))

    async def apply(self, body: Body, field_manager: str) -> Application:
        return self._seen(await self.kube.apply(body, field_manager=field_manager, force=True))

    async def patch_status(self, ref: AppRef, status: Mapping[str, Any]) -> Application:
        patched = await self.kube.patch(
            crds.API_VERSION,
            KIND,
            ref.name,
            ref.namespace,
            {"status": status},
            content_type=MERGE_PATCH,
            subresource="status",
        )
        return self._seen(patched)

    async def patch(self, ref: AppRef, patch: Mapping[str, Any]) -> Application:
        patched = await self.kube.patch(crds.API_VERSION, KIND, ref.name, ref.namespace, patch)
        return self._seen(patched)

    async def request_operation(self, ref: AppRef, request: OperationRequest) -> Application:
        return await self.patch(ref, {"operation": request.to_dict()})

    async def clear_operation(self, ref: AppRef) -> Application:
        return await self.patch(ref, {"operation": None})

    async def delete(self, ref: AppRef) -> None:
        await self.kube.delete(crds.API_VERSION, KIND, ref.name, ref.namespace)
