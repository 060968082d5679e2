"""Both renders are accepted by the real API server: CRDs applied for real (so the objects they
define can be checked), then every object server-side dry-run applied (schema, defaults, CEL in
the admission policy, RBAC escalation checks), as `kubectl apply --server-side` would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.deploy import renders
from tether.cluster import errors
from tether.cluster.client import KubeClient
from tether.service import apps as use

pytestmark = pytest.mark.cluster
FIELD_MANAGER = "tether-install-test"

RENDERS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "kustomize": renders.kustomize_build,
    "helm": renders.helm_template,
}


@pytest.fixture(scope="module")
async def deploy_crds(kube: KubeClient, tether_installed: None) -> None:
    """The CRDs as deploy/ ships them, for real: a dry run cannot create a type to check against."""
    for crd in (o for o in renders.kustomize_build() if o["kind"] == "CustomResourceDefinition"):
        await kube.apply(crd, field_manager=FIELD_MANAGER, force=True)
    await use.install(kube, renders.NAMESPACE)  # waits until they are Established


@pytest.mark.parametrize("tool", sorted(RENDERS))
async def test_every_object_passes_a_server_side_dry_run(
    kube: KubeClient, deploy_crds: None, tool: str
) -> None:
    objects = RENDERS[tool]()
    failures = []
    for obj in sorted(objects, key=_apply_order):
        try:
            answer = await kube.apply(obj, field_manager=FIELD_MANAGER, force=True, dry_run=True)
        except (errors.ApiError, errors.UnknownResource) as exc:
            failures.append(f"{renders.key(obj)}: {exc}")
            continue
        assert answer["metadata"]["name"] == obj["metadata"]["name"]
    assert not failures, "\n".join(failures)


def _apply_order(obj: dict[str, Any]) -> int:
    # Namespaces and CRDs first, as `tether app sync` and kubectl do.
    return {"Namespace": 0, "CustomResourceDefinition": 1}.get(obj["kind"], 2)
