"""SkipDryRunOnMissingResource with a long-lived engine: a controller syncs a custom resource
whose CRD appears only later (installed by another app or an operator, as the option exists
for) once the CRD is served, without a new commit or a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from tests.controller.conftest import StartController
from tests.support import customkinds
from tests.support.apps_fixtures import Repo
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.engine.operation import OperationPhase, OperationState
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.executions import Execution
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster

SKIP = {"tether.dev/sync-options": "SkipDryRunOnMissingResource=true"}


@pytest_asyncio.fixture(loop_scope="session")
async def widgets(kube: KubeClient) -> AsyncIterator[customkinds.Widgets]:
    async with customkinds.widgets(kube) as kind:
        yield kind


async def _sync(rt: Runtime, name: str) -> OperationState:
    requested = await ops.sync(rt, name, ops.SyncArgs(), Execution.CONTROLLER)
    state = await ops.follow(rt, name, requested.before, timeout=30)
    assert state is not None, "the controller did not finish the sync in 30s"
    return state


async def test_the_controller_syncs_once_the_crd_is_served(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    start_controller: StartController,
    widgets: customkinds.Widgets,
) -> None:
    """The controller's first sync fails on the widget (its kind is not served); after the CRD
    is installed, the next sync it runs of the same commit creates the widget."""
    repo = make_repo()
    repo.commit("widget", {"app/all.yaml": m.dump(widgets.widget("w", SKIP))})
    await use.create(
        rt,
        use.CreateOptions(name="patient", repo_url=repo.url, path="app", dest_namespace=namespace),
    )
    start_controller()
    before = await _sync(rt, "patient")
    assert before.phase is OperationPhase.FAILED, before
    assert "no resource type Widget" in before.message, before.message

    await widgets.install()
    after = await _sync(rt, "patient")

    assert after.phase is OperationPhase.SUCCEEDED, after.message
    assert await kube.get_or_none(widgets.api_version, "Widget", "w", namespace) is not None
