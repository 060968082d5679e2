"""A person's sync deploys what they just pushed: the controller asks the repository for its refs
when a requested operation starts, instead of trusting its last poll (minutes old by default)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.controller.conftest import StartController
from tests.support.apps_fixtures import Repo
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.executions import Execution
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


def _files(image: str) -> dict[str, str]:
    return {"app/web.yaml": m.dump(m.deployment("web", 1, image=image))}


async def test_a_requested_sync_resolves_the_branch_now(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    start_controller: StartController,
) -> None:
    repo = make_repo()
    repo.commit("v1", _files("registry.invalid/web:1"))
    await use.create(
        rt,
        use.CreateOptions(name="manual", repo_url=repo.url, path="app", dest_namespace=namespace),
    )
    start_controller("--poll-seconds", "600")  # the poll alone would not see the next push
    await wait_for(
        lambda: use.get(rt, "manual"),
        lambda a: a.status.get("sync", {}).get("status") == "OutOfSync",
        what="the first refresh",
    )

    pushed = repo.commit("v2", _files("registry.invalid/web:2"))
    # The CLI's own path: with a controller responsible, it only writes the request and follows.
    requested = await ops.sync(
        rt, "manual", ops.SyncArgs(username="ada"), Execution.HERE_IF_NO_CONTROLLER
    )
    assert not requested.here, "a second executor would race the controller"
    told: list[str] = []
    state = await ops.run(rt, requested, lambda e: told.append(e.message), timeout=60)

    assert state.phase.value == "Succeeded", state
    assert any("following its operation" in m for m in told), told
    assert pushed in state.revision
    deployment = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.invalid/web:2"
    )
