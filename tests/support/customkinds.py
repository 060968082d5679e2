"""A custom resource kind of the test's own, whose CRD is installed only when a test says so.

CRDs are cluster-scoped and the control plane is shared, so each use gets a fresh API group
(`w<random>.tether.test`) and removes its CRD at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.waiting import condition, wait_for
from tether.cluster.client import KubeClient

CRD_API = "apiextensions.k8s.io/v1"


@dataclass(frozen=True)
class Widgets:
    """The namespaced kind `Widget` in a group of its own; not served until `install()`."""

    kube: KubeClient
    group: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/v1"

    @property
    def crd_name(self) -> str:
        return f"widgets.{self.group}"

    @property
    def crd(self) -> dict[str, Any]:
        schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        version = {
            "name": "v1",
            "served": True,
            "storage": True,
            "schema": {"openAPIV3Schema": schema},
        }
        return {
            "apiVersion": CRD_API,
            "kind": "CustomResourceDefinition",
            "metadata": {"name": self.crd_name},
            "spec": {
                "group": self.group,
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [version],
            },
        }

    def widget(self, name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
        """A Widget as it would sit in Git: no namespace (the app's destination places it)."""
        meta: dict[str, Any] = {"name": name}
        if annotations:
            meta["annotations"] = annotations
        return {"apiVersion": self.api_version, "kind": "Widget", "metadata": meta, "size": 3}

    async def install(self) -> None:
        """Create the CRD and wait until the API server serves the kind."""
        await self.kube.create(self.crd)
        await wait_for(
            lambda: self.kube.get(CRD_API, "CustomResourceDefinition", self.crd_name),
            lambda crd: condition(crd, "Established") == "True",
            what=f"{self.crd_name} Established",
        )


@asynccontextmanager
async def widgets(kube: KubeClient) -> AsyncIterator[Widgets]:
    kind = Widgets(kube, f"w{uuid.uuid4().hex[:8]}.tether.test")
    try:
        yield kind
    finally:
        await kube.delete(CRD_API, "CustomResourceDefinition", kind.crd_name)
