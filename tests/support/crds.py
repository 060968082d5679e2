"""Making sure the shared control plane serves this checkout's CRDs.

Every test session installs tether's CRDs once, at its start; another checkout's session that
started later may have replaced them with its own since. A test that writes a field only this
checkout's schema knows (an unknown status field is dropped silently) re-installs them first.
"""

from __future__ import annotations

from tether.cluster.client import KubeClient
from tether.service import apps as use


async def ensure_status_field(kube: KubeClient, field: str, namespace: str = "tether") -> None:
    """Re-install the CRDs if the Application status schema lacks `field`."""
    crd = await kube.get(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", "applications.tether.dev"
    )
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    if field not in status["properties"]:
        await use.install(kube, namespace)
