"""Each component gets exactly the rights its design needs, proven by the real API server: the
chart's RBAC and admission policy are applied for real (cluster-scoped names made unique to this
run, namespaced objects in test namespaces) and asked with SubjectAccessReviews and impersonation.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
import yaml

from tests.deploy import renders
from tests.support.waiting import wait_for
from tether import crds
from tether.cluster import errors
from tether.cluster.client import KubeClient

pytestmark = pytest.mark.cluster
FIELD_MANAGER = "tether-rbac-test"
RBAC_KINDS = {
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", *(k for k in RBAC_KINDS if "Admission" in k)}


@dataclass(frozen=True)
class Installed:
    home: str  # tether's namespace (the release namespace)
    apps: str  # the one namespace the narrowed deployer may deploy to

    def account(self, component: str) -> tuple[str, list[str]]:
        user = f"system:serviceaccount:{self.home}:tether-{component}"
        return user, ["system:serviceaccounts", f"system:serviceaccounts:{self.home}"]


def _unique(objects: list[dict[str, Any]], suffix: str) -> list[dict[str, Any]]:
    """Cluster-scoped names (and references to them) suffixed, so parallel runs never collide."""
    renamed = []
    for obj in (copy.deepcopy(o) for o in objects if o["kind"] in RBAC_KINDS | {"Project"}):
        if obj["kind"] in CLUSTER_SCOPED:
            obj["metadata"]["name"] += suffix
        if (
            obj.get("roleRef", {}).get("kind") == "ClusterRole"
            and obj["roleRef"]["name"] != "admin"
        ):
            obj["roleRef"]["name"] += suffix
        if obj["kind"] == "ValidatingAdmissionPolicyBinding":
            obj["spec"]["policyName"] += suffix
        renamed.append(obj)
    return renamed


@pytest_asyncio.fixture(loop_scope="session")
async def installed(
    kube: KubeClient, namespace: str, tether_installed: None
) -> AsyncIterator[Installed]:
    apps = f"{namespace}-apps"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": apps}})
    objects = _unique(
        renders.helm_template(
            "controller.deployer.clusterWide=false",
            f"controller.deployer.namespaces={{{apps}}}",
            namespace=namespace,
        ),
        f"-{uuid.uuid4().hex[:6]}",
    )
    try:
        for obj in objects:
            await kube.apply(obj, field_manager=FIELD_MANAGER, force=True)
        yield Installed(namespace, apps)
    finally:
        for obj in (o for o in objects if o["kind"] in CLUSTER_SCOPED):
            await kube.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])
        await kube.delete("v1", "Namespace", apps)


async def _allowed(
    kube: KubeClient, who: tuple[str, list[str]], verb: str, resource: str, namespace: str = ""
) -> bool:
    resource, _, name = resource.partition(":")
    # "resource" (core), "group/resource" or "group/resource/subresource", then ":name"
    parts = resource.split("/")
    group = parts.pop(0) if len(parts) > 1 else ""
    attributes = {"verb": verb, "group": group, "resource": parts[0], "name": name}
    if len(parts) > 1:
        attributes["subresource"] = parts[1]
    if namespace:
        attributes["namespace"] = namespace
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": who[0], "groups": who[1], "resourceAttributes": attributes},
    }
    return bool((await kube.create(review))["status"].get("allowed"))


async def _check(
    kube: KubeClient, who: tuple[str, list[str]], cases: list[tuple[str, str, str, bool]]
) -> None:
    wrong = [
        f"{verb} {resource} in {ns or 'the cluster'}: expected {'allowed' if want else 'denied'}"
        for verb, resource, ns, want in cases
        if await _allowed(kube, who, verb, resource, ns) != want
    ]
    assert not wrong, "\n".join(wrong)


async def test_controller_rights(kube: KubeClient, installed: Installed) -> None:
    home, apps = installed.home, installed.apps
    await _check(
        kube,
        installed.account("controller"),
        [
            ("watch", "tether.dev/applications", home, True),
            ("patch", "tether.dev/applications/status", home, True),
            ("patch", "tether.dev/applications", home, True),
            ("list", "tether.dev/projects", home, True),
            ("create", "tether.dev/projects", home, True),  # the default project
            ("patch", "tether.dev/projects", home, False),
            ("create", "events.k8s.io/events", home, True),
            ("update", "coordination.k8s.io/leases", home, True),
            ("list", "secrets", home, True),
            ("watch", "configmaps", home, True),
            # what apps deploy: only where the narrowed deployer binding says
            ("create", "apps/deployments", apps, True),
            ("delete", "secrets", apps, True),
            ("create", "apps/deployments", "kube-system", False),
            ("get", "secrets", "kube-system", False),
            ("create", "rbac.authorization.k8s.io/clusterroles", "", False),
            ("update", "configmaps", home, False),
            ("create", "secrets", home, False),
            ("delete", "tether.dev/applications", home, False),
        ],
    )


async def test_server_rights(kube: KubeClient, installed: Installed) -> None:
    home = installed.home
    await _check(
        kube,
        installed.account("server"),
        [
            ("list", "tether.dev/applications", home, True),
            ("create", "tether.dev/applications", home, True),
            ("patch", "tether.dev/applications", home, True),
            ("delete", "tether.dev/applications", home, True),
            ("update", "tether.dev/projects", home, True),
            ("watch", "events", home, True),
            ("list", "events.k8s.io/events", home, True),
            ("list", "secrets", home, True),  # repository and cluster Secrets, to reach them
            ("create", "secrets", home, True),
            ("get", "configmaps:tether-rbac", home, True),
            ("get", "configmaps:tether-config", home, True),
            ("update", "configmaps:tether-rbac", home, False),
            # destinations: read, and patch for dry runs only (the admission policy)
            ("get", "apps/deployments", installed.apps, True),
            ("patch", "apps/deployments", installed.apps, True),
            ("create", "apps/deployments", installed.apps, False),
            ("delete", "apps/deployments", installed.apps, False),
            ("create", "secrets", installed.apps, False),
            ("impersonate", "serviceaccounts", installed.apps, True),
        ],
    )


async def test_server_writes_only_dry_runs_outside_its_own_resources(
    kube: KubeClient, installed: Installed
) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "probe", "namespace": installed.apps},
        "data": {"a": "1"},
    }
    await kube.apply(config, field_manager=FIELD_MANAGER, force=True)
    app = {
        "apiVersion": crds.API_VERSION,
        "kind": "Application",
        "metadata": {"name": "guarded", "namespace": installed.home},
        "spec": {
            "source": {"repoURL": "git://example.invalid/repo.git", "path": "app"},
            "destination": {"namespace": installed.apps},
        },
    }
    await kube.create(app)
    server = kube.impersonating(*installed.account("server"))

    async def change_it() -> Any:
        # A new value each try: one that landed before the policy took effect is no change.
        edited = {**config, "data": {"a": uuid.uuid4().hex}}
        return await server.apply(edited, field_manager="tether-server", force=True)

    denied = await wait_for(  # the policy takes effect once the API server has loaded it
        _outcome(change_it), lambda outcome: outcome != "allowed", what="the admission policy"
    )
    assert "only dry runs" in denied
    status = {"status": {"sync": {"status": "Synced"}}}
    refused = await _outcome(
        lambda: server.patch(
            crds.API_VERSION, "Application", "guarded", installed.home, status, subresource="status"
        )
    )()
    assert "only dry runs" in refused
    dry = await server.apply(
        {**config, "data": {"a": "2"}}, field_manager="tether-server", force=True, dry_run=True
    )
    assert dry["data"] == {"a": "2"}
    live = await kube.get("v1", "ConfigMap", "probe", installed.apps)
    assert live["data"]["a"] != "2"


def _outcome(attempt: Any) -> Any:
    async def run() -> str:
        try:
            await attempt()
        except errors.ApiError as exc:
            return str(exc)
        return "allowed"

    return run


@pytest_asyncio.fixture(loop_scope="session")
async def team(kube: KubeClient, installed: Installed) -> AsyncIterator[str]:
    """deploy/examples/project-service-account.yaml, for a project namespace of this test's."""
    team = f"{installed.home}-team"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": team}})
    text = (renders.ROOT / "deploy" / "examples" / "project-service-account.yaml").read_text()
    objects = [_moved(o, installed.home) for o in yaml.safe_load_all(text.replace("team-a", team))]
    objects = _unique(objects, f"-{uuid.uuid4().hex[:6]}")
    try:
        for obj in objects:
            await kube.apply(obj, field_manager=FIELD_MANAGER, force=True)
        yield team
    finally:
        for obj in (o for o in objects if o["kind"] in CLUSTER_SCOPED):
            await kube.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])
        await kube.delete("v1", "Namespace", team)


def _moved(obj: dict[str, Any], home: str) -> dict[str, Any]:
    """The object with tether's namespace (`tether` in the example) replaced by `home`."""
    text = json.dumps(obj).replace('"namespace": "tether"', f'"namespace": "{home}"')
    return dict(json.loads(text))


async def test_a_project_service_account_narrows_the_controller(
    kube: KubeClient, installed: Installed, team: str
) -> None:
    await _check(
        kube,
        installed.account("controller"),
        [
            ("impersonate", "serviceaccounts:tether-deployer", team, True),
            ("impersonate", "groups:system:serviceaccounts:" + team, "", True),
            ("impersonate", "serviceaccounts:default", team, False),
            ("impersonate", "serviceaccounts:tether-deployer", "kube-system", False),
            ("impersonate", "groups:system:masters", "", False),
            ("impersonate", "users:admin", "", False),
            ("create", "apps/deployments", team, False),  # only as the project's account
            ("list", "apps/deployments", "", True),  # the watch cache, cluster-wide
            ("list", "secrets", "kube-system", False),
        ],
    )
    deployer = (
        f"system:serviceaccount:{team}:tether-deployer",
        ["system:serviceaccounts", f"system:serviceaccounts:{team}"],
    )
    await _check(
        kube,
        deployer,
        [
            ("create", "apps/deployments", team, True),
            ("create", "apps/deployments", "kube-system", False),
            ("create", "rbac.authorization.k8s.io/clusterroles", "", False),
        ],
    )
