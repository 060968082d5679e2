"""Reading and writing Application objects (spec, operation request, status subresource).

Writes that can race another writer — an operation's state against a person's terminate
request, a new operation request against another — name the resourceVersion they were made
against (`resource_version=`); the API server refuses them with Conflict if the object moved on,
and the caller reads it again. Writes that only one writer makes (a refresh's conditions) merge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

from tether import crds
from tether.cluster.api import MERGE_PATCH, KubeAPI
from tether.engine.operation import OperationRequest, OperationState
from tether.engine.tracking import AppRef
from tether.model.app import AppSpec, parse_spec
from tether.model.bodies import ApplicationStatus, ObjectMeta
from tether.model.resources import Body

KIND = "Application"
FINALIZER = "tether.dev/resources-finalizer"  # deleting the app deletes what it deployed first
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
        return int(self.metadata.get("generation", 0))

    @property
    def status(self) -> ApplicationStatus:
        return cast(ApplicationStatus, self.body.get("status") or {})

    @property
    def metadata(self) -> ObjectMeta:
        return cast(ObjectMeta, self.body["metadata"])

    @property
    def operation(self) -> OperationRequest | None:
        raw = self.body.get("operation")
        return OperationRequest.from_dict(raw) if raw else None

    @property
    def operation_state(self) -> OperationState | None:
        raw = self.status.get("operationState")
        return OperationState.from_dict(raw) if raw else None

    @property
    def operating(self) -> bool:
        """An operation is requested or running (one at a time)."""
        state = self.operation_state
        return self.operation is not None or (state is not None and not state.phase.completed)

    @property
    def resource_version(self) -> str:
        return str(self.metadata.get("resourceVersion", ""))

    @property
    def annotations(self) -> Mapping[str, str]:
        return self.metadata.get("annotations") or {}

    @property
    def deleting(self) -> bool:
        return bool(self.metadata.get("deletionTimestamp"))


class AppStore:
    """Application CRUD through one KubeClient (the management cluster).

    `observe` sees every body a write returns, so a cache of Applications (the controller's
    informer) is never older than this process's own last write."""

    def __init__(self, kube: KubeAPI, observe: Callable[[Body], None] = lambda _b: None) -> None:
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

    async def patch_status(
        self, ref: AppRef, status: Mapping[str, Any], resource_version: str = ""
    ) -> Application:
        patched = await self.kube.patch(
            crds.API_VERSION,
            KIND,
            ref.name,
            ref.namespace,
            _guarded({"status": status}, resource_version),
            content_type=MERGE_PATCH,
            subresource="status",
        )
        return self._seen(patched)

    async def patch(
        self, ref: AppRef, patch: Mapping[str, Any], resource_version: str = ""
    ) -> Application:
        guarded = _guarded(patch, resource_version)
        patched = await self.kube.patch(crds.API_VERSION, KIND, ref.name, ref.namespace, guarded)
        return self._seen(patched)

    async def request_operation(
        self, ref: AppRef, request: OperationRequest, resource_version: str = ""
    ) -> Application:
        return await self.patch(ref, {"operation": request.to_dict()}, resource_version)

    async def clear_operation(self, ref: AppRef, resource_version: str = "") -> Application:
        return await self.patch(ref, {"operation": None}, resource_version)

    async def delete(self, ref: AppRef) -> None:
        await self.kube.delete(crds.API_VERSION, KIND, ref.name, ref.namespace)


def _guarded(patch: Mapping[str, Any], resource_version: str) -> dict[str, Any]:
    """`patch`, conditional on the object still being at `resource_version` (if given)."""
    if not resource_version:
        return dict(patch)
    metadata = {**(patch.get("metadata") or {}), "resourceVersion": resource_version}
    return {**patch, "metadata": metadata}
