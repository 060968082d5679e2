"""Kustomize overlays per environment, a Helm chart with two value files, and a multi-source app
(chart in one repository, values in another) each sync to Synced/Healthy on the real cluster."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.apps_fixtures import Repo
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.engine.operation import OperationPhase
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster

KUSTOMIZE_REPO = {
    "base/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
    "base/deployment.yaml": m.dump(m.deployment("shop", 1)),
    "base/service.yaml": m.dump(m.service("shop")),
    **{
        f"overlays/{env}/kustomization.yaml": (
            f"resources: [../../base]\nnameSuffix: -{env}\nlabels:\n- pairs: {{env: {env}}}\n"
            f"replicas:\n- name: shop\n  count: {count}\n"
            f"images:\n- name: registry.invalid/web\n  newTag: '{env}'\n"
        )
        for env, count in (("dev", 1), ("staging", 2), ("prod", 3))
    },
}

CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: shop\nversion: 0.1.0\n",
    "chart/values.yaml": "replicas: 1\nimage: registry.invalid/web:1\ngreeting: hello\n",
    "chart/values-prod.yaml": "replicas: 3\n",
    "chart/values-eu.yaml": "greeting: hallo\n",
    "chart/templates/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
        "spec:\n  replicas: {{ .Values.replicas }}\n"
        "  selector:\n    matchLabels: {app: {{ .Release.Name }}}\n"
        "  template:\n    metadata:\n      labels: {app: {{ .Release.Name }}}\n"
        "    spec:\n      containers:\n      - name: app\n        image: {{ .Values.image }}\n"
    ),
    "chart/templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
        "  namespace: {{ .Release.Namespace | quote }}\n"
    ),
}


async def _sync_and_wait(rt: Runtime, name: str) -> None:
    state = await ops.sync_to_end(rt, name, ops.SyncArgs(), lambda _: None)
    assert state.phase is OperationPhase.SUCCEEDED, state.message
    await ops.wait(rt, name, ops.WaitFor(synced=True, healthy=True), timeout=90)


async def test_kustomize_overlays_per_environment(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    repo.commit("kustomize", KUSTOMIZE_REPO)
    for env in ("dev", "staging", "prod"):
        await use.create(
            rt,
            use.CreateOptions(
                name=f"shop-{env}",
                repo_url=repo.url,
                path=f"overlays/{env}",
                dest_namespace=namespace,
            ),
        )
    for env in ("dev", "staging", "prod"):
        await _sync_and_wait(rt, f"shop-{env}")
    for env, count in (("dev", 1), ("staging", 2), ("prod", 3)):
        live = await kube.get("apps/v1", "Deployment", f"shop-{env}", namespace)
        assert live["status"]["readyReplicas"] == count
        assert live["metadata"]["labels"]["env"] == env
        assert (
            live["spec"]["template"]["spec"]["containers"][0]["image"]
            == f"registry.invalid/web:{env}"
        )


async def test_helm_chart_with_two_value_files(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    repo.commit("chart", CHART)
    await use.create(
        rt,
        use.CreateOptions(
            name="shop-helm",
            repo_url=repo.url,
            path="chart",
            dest_namespace=namespace,
            helm_value_files=("values-prod.yaml", "values-eu.yaml"),
            release_name="shop",
        ),
    )
    await _sync_and_wait(rt, "shop-helm")
    assert (await kube.get("apps/v1", "Deployment", "shop", namespace))["status"][
        "readyReplicas"
    ] == 3
    assert (await kube.get("v1", "ConfigMap", "shop-config", namespace))["data"] == {
        "greeting": "hallo",
        "namespace": namespace,
    }


async def test_multi_source_chart_with_values_from_another_repository(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    charts, config = make_repo(), make_repo()
    charts.commit("chart", CHART)
    config.commit("env values", {"envs/prod/shop.yaml": "replicas: 2\ngreeting: bonjour\n"})
    body = {
        "apiVersion": "tether.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "hybrid", "namespace": namespace},
        "spec": {
            "destination": {"namespace": namespace},
            "sources": [
                {
                    "repoURL": charts.url,
                    "path": "chart",
                    "helm": {
                        "releaseName": "hybrid",
                        "valueFiles": ["$values/envs/prod/shop.yaml"],
                    },
                },
                {"repoURL": config.url, "targetRevision": "main", "ref": "values"},
            ],
        },
    }
    await rt.store.apply(body, "test")
    await _sync_and_wait(rt, "hybrid")
    assert (await kube.get("apps/v1", "Deployment", "hybrid", namespace))["status"][
        "readyReplicas"
    ] == 2
    assert (await kube.get("v1", "ConfigMap", "hybrid-config", namespace))["data"][
        "greeting"
    ] == "bonjour"
    app = await use.get(rt, "hybrid")
    assert len(app.status["sync"]["revisions"]) == 2
    assert app.status["sync"]["revisions"][1].startswith("main@sha1:")
