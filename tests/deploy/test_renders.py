"""The kustomize base and the Helm chart render, and render the same installation."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.deploy import renders
from tether import __version__, crds

EXPECTED_KINDS = Counter(
    {
        "Namespace": 1,
        "CustomResourceDefinition": len(crds.FILES),
        "ConfigMap": 1,
        "ServiceAccount": 2,
        "ClusterRole": 4,
        "ClusterRoleBinding": 2,
        "Role": 2,
        "RoleBinding": 4,
        "Deployment": 2,
        "Service": 2,
        "NetworkPolicy": 2,
        "ValidatingAdmissionPolicy": 1,
        "ValidatingAdmissionPolicyBinding": 1,
    }
)


@pytest.fixture(scope="module")
def kustomized() -> list[dict]:
    return renders.kustomize_build()


@pytest.fixture(scope="module")
def templated() -> list[dict]:
    return renders.helm_template()


def test_kustomize_renders_the_whole_installation(kustomized: list[dict]) -> None:
    assert Counter(o["kind"] for o in kustomized) == EXPECTED_KINDS
    namespaced = [o for o in kustomized if o["metadata"].get("namespace")]
    assert {o["metadata"]["namespace"] for o in namespaced} == {renders.NAMESPACE}


def test_helm_renders_the_same_objects(kustomized: list[dict], templated: list[dict]) -> None:
    assert set(renders.by_key(templated)) == set(renders.by_key(kustomized))


def test_helm_and_kustomize_differ_only_in_helm_labels(
    kustomized: list[dict], templated: list[dict]
) -> None:
    helm = renders.by_key(templated)
    for key, obj in renders.by_key(kustomized).items():
        assert renders.without_helm_labels(helm[key]) == obj, key


def test_deployments_run_this_version(kustomized: list[dict]) -> None:
    images = {
        c["image"]
        for o in kustomized
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    assert images == {f"ghcr.io/tether-dev/tether:{__version__}"}


def test_sharding_env_follows_the_replica_count() -> None:
    (controller,) = [
        o
        for o in renders.helm_template("controller.replicas=3")
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "tether-controller"
    ]
    env = {e["name"]: e for e in controller["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert controller["spec"]["replicas"] == 3
    assert env["TETHER_CONTROLLER_REPLICAS"]["value"] == "3"
    assert env["TETHER_CONTROLLER_IDENTITY"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.name"
    )


def test_deployer_rights_narrow_to_namespaces() -> None:
    narrowed = renders.by_key(
        renders.helm_template(
            "controller.deployer.clusterWide=false",
            "controller.deployer.namespaces={tether,team-a}",
        )
    )
    assert ("ClusterRoleBinding", "tether-controller-deployer", "") not in narrowed
    bindings = {k[2] for k in narrowed if k[:2] == ("RoleBinding", "tether-controller-deployer")}
    assert bindings == {"tether", "team-a"}


def test_release_namespace_reaches_every_subject_and_the_admission_policy() -> None:
    objects = renders.helm_template(namespace="gitops")
    subjects = {
        s["namespace"] for o in objects for s in o.get("subjects") or [] if "namespace" in s
    }
    assert subjects == {"gitops"}
    (policy,) = [o for o in objects if o["kind"] == "ValidatingAdmissionPolicy"]
    assert "system:serviceaccount:gitops:tether-server" in str(policy["spec"]["matchConditions"])


def test_config_values_reach_the_config_map() -> None:
    objects = renders.helm_template(
        "config.resyncSeconds=60",
        "config.healthRules[0].group=example.com",
        "config.healthRules[0].kind=Widget",
        "config.healthRules[0].healthy=object.status.ready",
    )
    (config,) = [o for o in objects if o["kind"] == "ConfigMap"]
    assert config["data"]["resync.seconds"] == "60"
    assert "kind: Widget" in config["data"]["health.rules"]


def test_the_self_managed_overlay_is_the_base_without_its_config(kustomized: list[dict]) -> None:
    self_managed = renders.by_key(renders.kustomize_build(renders.SELF_MANAGED))
    config = ("ConfigMap", "tether-config", renders.NAMESPACE)
    assert self_managed == {k: o for k, o in renders.by_key(kustomized).items() if k != config}
