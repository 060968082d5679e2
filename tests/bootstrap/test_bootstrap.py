"""`tether bootstrap` on the shared cluster: idempotent, an app-of-apps the running controller
syncs end to end, and a tether whose configuration lives in Git (changed without a restart)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.bootstrap import controllers, layout
from tests.conftest import Cluster
from tests.controller.conftest import ControllerProcess
from tests.support.apps_fixtures import Repo
from tests.support.waiting import wait_for
from tether import crds
from tether.cluster.client import KubeClient
from tether.service import bootstrap as boot
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


def _cli(cluster: Cluster, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tether", "bootstrap", "--kubeconfig", str(cluster.kubeconfig)]
    return subprocess.run(
        [*argv, "-N", namespace, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )


async def _versions(kube: KubeClient, namespace: str) -> dict[str, str]:
    found = {
        crd["metadata"]["name"]: await kube.get(
            "apiextensions.k8s.io/v1", "CustomResourceDefinition", crd["metadata"]["name"]
        )
        for crd in crds.load_all()
    }
    found["namespace"] = await kube.get("v1", "Namespace", namespace)
    found["root"] = await kube.get(crds.API_VERSION, "Application", "root", namespace)
    return {k: v["metadata"]["resourceVersion"] for k, v in found.items()}


async def test_bootstrap_twice_changes_nothing_the_second_time(
    rt: Runtime, cluster: Cluster, kube: KubeClient, namespace: str
) -> None:
    args = ("--repo", "git://git.example.invalid/state.git", "--path", "clusters/prod/")
    first = _cli(cluster, namespace, *args, "--branch", "main")
    assert first.returncode == 0, first.stderr
    assert f"root application {namespace}/root: created" in first.stderr
    before = await _versions(kube, namespace)

    second = _cli(cluster, namespace, *args, "--branch", "main")

    assert second.returncode == 0, second.stderr
    assert "already bootstrapped: nothing changed" in second.stderr
    assert await _versions(kube, namespace) == before
    root = await kube.get(crds.API_VERSION, "Application", "root", namespace)
    assert root["spec"]["source"] == {
        "repoURL": "git://git.example.invalid/state.git",
        "path": "clusters/prod",
        "targetRevision": "main",
        "directory": {"recurse": True},
    }
    assert root["spec"]["destination"] == {"cluster": "in-cluster", "namespace": namespace}
    assert root["spec"]["syncPolicy"]["automated"] == {
        "prune": True,
        "selfHeal": True,
        "allowEmpty": False,
    }
    assert not root["metadata"].get("finalizers")  # deleting root never cascades

    moved = await boot.bootstrap(
        rt,
        boot.BootstrapOptions(
            repo_url="git://git.example.invalid/state.git", path="clusters/prod", branch="release"
        ),
    )
    assert (moved.root_action, moved.installed) == ("configured", False)


# ---- app-of-apps and self-management -------------------------------------------------------


def _widget_files(group: str) -> dict[str, str]:
    """A custom kind without a built-in health check, and one object of it."""
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    widget = {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": "gizmo"},
        "spec": {"state": "Failed"},
    }
    return {
        "apps/widgets/crd.yaml": layout.dump(crd),
        "apps/widgets/widget.yaml": layout.dump(widget),
    }


def _health_rule(group: str) -> str:
    rule = {"group": group, "kind": "Widget", "degraded": "object.spec.state == 'Failed'"}
    return layout.dump_list([rule])


async def _app(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    return await kube.get_or_none(crds.API_VERSION, "Application", name, namespace)


def _state(app: dict[str, Any] | None) -> tuple[str, str]:
    status = (app or {}).get("status") or {}
    return (status.get("sync") or {}).get("status", ""), (status.get("health") or {}).get(
        "status", ""
    )


async def test_app_of_apps_syncs_and_follows_tethers_configuration_in_git(
    rt: Runtime,
    cluster: Cluster,
    kube: KubeClient,
    namespace: str,
    make_repo: Callable[[], Repo],
    tmp_path: Path,
) -> None:
    repo = make_repo()
    group = f"w{uuid.uuid4().hex[:8]}.example.com"
    apps, files = layout.app_files(dict.fromkeys(("web", "api", "worker"), namespace))
    widgets = layout.App("widgets", "apps/widgets", namespace, 2)
    state = layout.ClusterRepo(repo.url, create_namespaces=False)
    repo.commit("cluster", state.files([*apps, widgets], {**files, **_widget_files(group)}))
    ctl = controllers.spawn(cluster.kubeconfig, namespace, tmp_path, "--resync-seconds", "30")
    try:
        await boot.bootstrap(
            rt, boot.BootstrapOptions(repo_url=repo.url, path="clusters/prod", branch="main")
        )
        await _all_synced_and_healthy(kube, namespace, ["root", *(a.name for a in apps), "widgets"])
        for name in ("web", "api", "worker"):
            assert await kube.get("apps/v1", "Deployment", name, namespace)
        api = await kube.get("apps/v1", "Deployment", "api", namespace)
        assert api["spec"]["replicas"] == 3  # the overlay, rendered by kustomize
        assert await kube.get("v1", "ConfigMap", "tether-config", namespace)

        state.config = {"resync.seconds": "45", "health.rules": _health_rule(group)}
        repo.commit("tether: a health rule for Widgets", state.files([*apps, widgets], {}))

        await wait_for(
            lambda: _app(kube, namespace, "widgets"),
            lambda app: _state(app)[1] == "Degraded",
            what="the widgets app Degraded under the new rule",
            timeout=60,
        )
        _assert_no_restart(ctl, expected_resync=45.0)
    finally:
        ctl.stop()
        # Cluster-scoped, so the test namespace's deletion does not take it along.
        await kube.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}")


async def _all_synced_and_healthy(kube: KubeClient, namespace: str, names: list[str]) -> None:
    async def states() -> dict[str, tuple[str, str]]:
        return {name: _state(await _app(kube, namespace, name)) for name in names}

    await wait_for(
        states,
        lambda found: all(s == ("Synced", "Healthy") for s in found.values()),
        what="every app Synced and Healthy",
        timeout=120,
        interval=0.5,
    )


def _assert_no_restart(ctl: ControllerProcess, expected_resync: float) -> None:
    assert ctl.proc.poll() is None, "the controller exited"
    logs = ctl.logs()
    assert sum(1 for line in logs if line.get("event") == "controller starting") == 1
    applied = [line for line in logs if line.get("event") == "configuration applied"]
    assert applied and applied[-1]["resync_seconds"] == expected_resync
    assert applied[-1]["source"].startswith("ConfigMap ")
