"""A Deployment the controller-manager has not seen yet is Progressing, not Healthy.

With `replicas: 0`, a Deployment's empty status (zero replicas, zero updated, zero available)
agrees with its spec before the deployment controller has done anything, so only the missing
`status.observedGeneration` tells "not observed yet" from "done". To get that state for real, the
test freezes the shared control plane's kube-controller-manager (SIGSTOP) for the moment it takes
to create and read back the Deployment, then resumes it (SIGCONT) and waits for Healthy.

Other sessions run tests against the same control plane at the same time, so the freeze lasts a
few requests, it is always resumed in `finally`, and a watchdog process resumes it after
FREEZE_LIMIT_SECONDS even if this process is killed before `finally` runs. The controller-manager
runs with `--leader-elect=false`, so a short pause costs it no lease and it simply catches up.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import Cluster
from tests.support.waiting import wait_for
from tether.cluster.client import KubeClient
from tether.devcluster import processes
from tether.devcluster.layout import InstanceLayout
from tether.engine import health
from tether.model.health import HealthResult, HealthStatus

pytestmark = pytest.mark.cluster

FREEZE_LIMIT_SECONDS = 8


def idle_deployment(name: str, namespace: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]},
            },
        },
    }


def controller_manager_pid(cluster: Cluster) -> int:
    """The PID `tether dev up` recorded, checked against its start time (never a recycled PID)."""
    pid_file = InstanceLayout.for_name(cluster.name).pid_file("controller-manager")
    pid = processes.running_pid(pid_file)
    assert pid is not None, f"no running kube-controller-manager recorded in {pid_file}"
    return pid


@contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The process stopped for the duration of the block; resumed however the block ends."""
    # Started before the freeze, in its own session: it outlives this process if need be.
    watchdog = subprocess.Popen(
        ["sh", "-c", f"sleep {FREEZE_LIMIT_SECONDS}; kill -CONT {pid}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        os.kill(pid, signal.SIGSTOP)
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
        watchdog.kill()
        watchdog.wait()


def assessed(deployment: dict[str, Any]) -> HealthResult:
    result = health.assess(deployment)
    assert result is not None
    return result


async def test_unobserved_deployment_is_progressing_until_the_controller_observes_it(
    cluster: Cluster, kube: KubeClient, namespace: str
) -> None:
    pid = controller_manager_pid(cluster)
    await kube.resource("apps/v1", "Deployment")  # discovery before the freeze, not during it

    with frozen(pid):
        await kube.create(idle_deployment("idle", namespace))
        unobserved = await kube.get("apps/v1", "Deployment", "idle", namespace)
    # Judged after resuming, to keep the freeze short: `unobserved` is what was read while frozen.

    assert "observedGeneration" not in (unobserved.get("status") or {}), unobserved.get("status")
    before = assessed(unobserved)
    assert before.status == HealthStatus.PROGRESSING
    assert "observe generation 1" in before.message

    observed = await wait_for(
        lambda: kube.get("apps/v1", "Deployment", "idle", namespace),
        lambda d: assessed(d).status == HealthStatus.HEALTHY,
        what="Deployment idle assessed Healthy once the controller-manager has observed it",
    )
    assert observed["status"]["observedGeneration"] == 1
