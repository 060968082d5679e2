"""RBAC and impersonation are enforced by the real API server (authorization-mode Node,RBAC)."""

from __future__ import annotations

import pytest

from tests.support.waiting import wait_for
from tether.cluster import errors
from tether.cluster.client import KubeClient

pytestmark = pytest.mark.cluster


async def _token(kube: KubeClient, namespace: str, sa: str) -> str:
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 600},
    }
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{sa}/token"
    answer = await kube.request("POST", path, body=request)
    return str(answer["status"]["token"])


async def test_service_account_needs_a_role_binding(kube: KubeClient, namespace: str) -> None:
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "reader", "namespace": namespace},
        }
    )
    token = await _token(kube, namespace, "reader")
    user = f"system:serviceaccount:{namespace}:reader"
    async with KubeClient(kube.config.with_token(token)) as as_token:
        as_impersonated = kube.impersonating(user, ["system:serviceaccounts"])

        for client in (as_token, as_impersonated):
            with pytest.raises(errors.Forbidden):
                await client.list("v1", "ConfigMap", namespace)

        await kube.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "read-cm", "namespace": namespace},
                "rules": [
                    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}
                ],
            }
        )
        await kube.create(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "reader", "namespace": namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "read-cm",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
            }
        )
        for client in (as_token, as_impersonated):
            await wait_for(
                lambda c=client: c.list("v1", "ConfigMap", namespace),
                lambda listed: isinstance(listed.items, list),
                what="list allowed after the RoleBinding",
            )
        # The binding grants reads only: writes stay forbidden.
        with pytest.raises(errors.Forbidden):
            await as_impersonated.create(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "x", "namespace": namespace},
                }
            )
