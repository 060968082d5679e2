"""API errors on the way to the real API server — 429, 500, 503 and 409 — are retried with
backoff until the app converges (injected by a loopback proxy, not a mock)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import Cluster
from tests.controller.conftest import StartController
from tests.support.apps_fixtures import Repo
from tests.support.faultproxy import FaultProxy, serving_context
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.devcluster.layout import InstanceLayout
from tether.service import apps as use
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


@pytest.fixture
def proxy(cluster: Cluster) -> Iterator[FaultProxy]:
    faults = FaultProxy(cluster.config, every={429: 3, 503: 5, 500: 7, 409: 4})
    faults.start_in_thread(serving_context(InstanceLayout.for_name(cluster.name).pki_dir))
    yield faults
    faults.stop_thread()


def _kubeconfig_via(proxy: FaultProxy, cluster: Cluster, path: Path) -> Path:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_injected_api_errors_are_retried_until_the_app_converges(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    cluster: Cluster,
    proxy: FaultProxy,
    tmp_path: Path,
    start_controller: StartController,
) -> None:
    repo = make_repo()
    repo.commit(
        "three",
        {"app/all.yaml": m.dump(m.config_map("one"), m.config_map("two"), m.deployment("web", 1))},
    )
    await use.create(
        rt,
        use.CreateOptions(
            name="flaky",
            repo_url=repo.url,
            path="app",
            dest_namespace=namespace,
            automated=True,
            self_heal=True,
        ),
    )

    ctl = start_controller(
        kubeconfig=_kubeconfig_via(proxy, cluster, tmp_path / "proxied.kubeconfig")
    )

    app = await wait_for(
        lambda: use.get(rt, "flaky"),
        lambda a: (
            a.status.get("sync", {}).get("status") == "Synced"
            and a.status.get("health", {}).get("status") == "Healthy"
        ),
        what="convergence through the faulty proxy",
        timeout=90,
    )
    assert app.status["operationState"]["phase"] == "Succeeded"
    for name in ("one", "two"):
        assert await kube.get_or_none("v1", "ConfigMap", name, namespace) is not None
    assert {429, 500, 503} <= set(proxy.injected), proxy.injected
    assert proxy.forwarded > 0
    failures = [line for line in ctl.logs() if line.get("event") == "reconcile failed"]
    assert all("Conflict" in str(line) or "injected" in str(line) for line in failures)
