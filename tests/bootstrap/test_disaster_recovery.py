"""Disaster recovery: a cluster whose data directory is destroyed comes back from Git alone.

A fresh control plane (its own TETHER_HOME, one node) is bootstrapped from a repository holding
tether's configuration, tether's own install manifests and three apps; a real controller syncs
it. Then the cluster's data is deleted outright, a brand-new cluster is started, and the same
`bootstrap` plus a controller must bring every object of every app back, Healthy. The time from
bootstrap to all-Healthy is printed (the README quotes it).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from tests.bootstrap import controllers, layout
from tests.deploy import renders
from tests.support.apps_fixtures import Repo
from tests.support.waiting import wait_for
from tether import crds
from tether.cluster import config as cluster_config
from tether.cluster.client import KubeClient
from tether.devcluster import instance
from tether.service import bootstrap as boot
from tether.service.runtime import Settings, open_runtime

pytestmark = [pytest.mark.slow, pytest.mark.cluster]
NAME = "dr"
NAMESPACE = "tether"
APP_NAMESPACES = {"web": "web", "api": "api", "worker": "worker"}


@dataclass(frozen=True)
class Recovery:
    """What one bootstrap of a fresh cluster took, in seconds."""

    cluster_start: float  # `instance.up` to nodes Ready
    bootstrap: float  # `bootstrap` itself: CRDs Established, namespace, root app
    controller_start: float  # the controller process to /readyz
    bootstrap_to_healthy: float  # from `bootstrap` starting to every app Synced and Healthy

    def __str__(self) -> str:
        return (
            f"{self.bootstrap_to_healthy:.1f}s (bootstrap {self.bootstrap:.1f}s, controller start "
            f"{self.controller_start:.1f}s, then syncs; cluster up {self.cluster_start:.1f}s)"
        )


@pytest_asyncio.fixture(loop_scope="session")
async def home(tmp_path: Path) -> AsyncIterator[Path]:
    home = tmp_path / "tether-home"
    yield home
    instance.down(NAME, purge=True, home=home)


def _state_repo(repo: Repo) -> tuple[list[layout.App], dict[str, str]]:
    apps, files = layout.app_files(APP_NAMESPACES)
    install = renders.kustomize_build(renders.SELF_MANAGED)
    state = layout.ClusterRepo(repo.url, install=install)
    return apps, state.files(apps, files)


async def _recover(home: Path, repo: Repo, apps: list[layout.App], workdir: Path) -> Recovery:
    began = time.monotonic()
    up = await instance.up(
        instance.UpOptions(name=NAME, nodes=1, home=home), lambda _m: None, lambda *_: None
    )
    started = time.monotonic() - began
    settings = Settings(kubeconfig=up.kubeconfig, namespace=NAMESPACE, cache_dir=workdir / "cli")
    ctl = None
    try:
        began = time.monotonic()
        async with open_runtime(settings) as rt:
            options = boot.BootstrapOptions(repo_url=repo.url, path="clusters/prod", branch="main")
            await boot.bootstrap(rt, options)
        bootstrapped = time.monotonic() - began
        ctl = controllers.spawn(up.kubeconfig, NAMESPACE, workdir)
        ready = time.monotonic() - began - bootstrapped
        async with KubeClient(cluster_config.from_kubeconfig(up.kubeconfig)) as kube:
            await _all_healthy(kube, ["root", *(a.name for a in apps)])
            took = time.monotonic() - began
            await _everything_back(kube, apps)
    finally:
        if ctl is not None:
            ctl.stop()
    return Recovery(started, bootstrapped, ready, took)


async def _all_healthy(kube: KubeClient, names: list[str]) -> None:
    async def states() -> dict[str, tuple[str, str]]:
        found = {}
        for name in names:
            app = await kube.get_or_none(crds.API_VERSION, "Application", name, NAMESPACE)
            status = (app or {}).get("status") or {}
            found[name] = (
                (status.get("sync") or {}).get("status", ""),
                (status.get("health") or {}).get("status", ""),
            )
        return found

    await wait_for(
        states,
        lambda found: all(s == ("Synced", "Healthy") for s in found.values()),
        what="every app Synced and Healthy",
        timeout=240,
        interval=0.5,
    )


async def _everything_back(kube: KubeClient, apps: list[layout.App]) -> None:
    for app in apps:
        for name in app.deployments:
            deployment = await kube.get("apps/v1", "Deployment", name, app.namespace)
            wanted = deployment["spec"]["replicas"]
            assert deployment["status"].get("readyReplicas") == wanted, (app.name, name)
    api = await kube.get("apps/v1", "Deployment", "api", "api")
    assert api["spec"]["replicas"] == 3  # the kustomize overlay's, not the base's
    config = await kube.get("v1", "ConfigMap", "tether-config", NAMESPACE)
    assert config["data"]["resync.seconds"] == "30"
    # tether's own installation came back from Git too
    for kind, name in (("Deployment", "tether-controller"), ("Deployment", "tether-server")):
        assert await kube.get("apps/v1", kind, name, NAMESPACE)
    assert await kube.get(
        "admissionregistration.k8s.io/v1",
        "ValidatingAdmissionPolicy",
        "tether-server-dry-run-only",
    )


async def test_a_destroyed_cluster_comes_back_from_git(
    make_repo: Callable[[], Repo], home: Path, tmp_path: Path
) -> None:
    repo = make_repo()
    apps, files = _state_repo(repo)
    repo.commit("the prod cluster", files)

    first = await _recover(home, repo, apps, tmp_path / "first")
    data = home / "clusters" / NAME
    instance.down(NAME, purge=True, home=home)
    assert not data.exists()  # the disaster: every object, every Secret, etcd itself, gone
    second = await _recover(home, repo, apps, tmp_path / "second")

    print(f"\nfirst build: bootstrap to all Healthy in {first}")
    print(f"after the disaster: bootstrap to all Healthy in {second}")
