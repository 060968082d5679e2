"""Terminating an operation a real controller runs: the request is only written; the controller
hears it at its next step boundary, deletes the running hook and ends the operation Failed, and
the waves after the hook never run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.controller.conftest import StartController
from tests.support.apps_fixtures import Repo
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.engine.operation import OperationPhase, OperationState, ResultStatus
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.executions import Execution
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster

HOOK = "wait-forever"
LATER = "later"


async def _state(rt: Runtime, name: str) -> OperationState | None:
    return (await use.get(rt, name)).operation_state


def _hook_running(state: OperationState | None) -> bool:
    return (
        state is not None
        and state.phase is OperationPhase.RUNNING
        and any(r.key.name == HOOK and r.status is ResultStatus.RUNNING for r in state.resources)
    )


async def test_the_controller_stops_a_terminated_operation(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    start_controller: StartController,
) -> None:
    """A Sync hook that never finishes (a suspended Job) holds the operation Running; a
    terminate by bob ends it Failed, deletes the hook, and the later wave is never applied."""
    repo = make_repo()
    repo.commit(
        "a hook that never ends",
        {
            "app/all.yaml": m.dump(
                m.job(HOOK, "Sync", suspend=True), m.in_wave(m.config_map(LATER), 1)
            )
        },
    )
    await use.create(
        rt, use.CreateOptions(name="hung", repo_url=repo.url, path="app", dest_namespace=namespace)
    )
    start_controller()
    requested = await ops.sync(rt, "hung", ops.SyncArgs(username="ada"), Execution.CONTROLLER)
    assert not requested.here
    running = await wait_for(
        lambda: _state(rt, "hung"), _hook_running, what="the controller running the hook"
    )
    assert running is not None
    job = await kube.get("batch/v1", "Job", HOOK, namespace)
    assert job["metadata"]["annotations"]["tether.dev/operation-id"] == running.id

    answer = await ops.terminate(rt, "hung", "bob", Execution.CONTROLLER)

    assert answer == f"operation {running.id[:8]} of hung stops at its next step boundary", answer
    state = await ops.follow(rt, "hung", requested.before, timeout=30)
    assert state is not None, "the controller did not end the terminated operation in 30s"
    assert state.id == running.id
    assert state.phase is OperationPhase.FAILED, state
    assert state.message == "operation terminated (terminate requested by bob)", state.message
    hook = next(r for r in state.resources if r.key.name == HOOK)
    assert hook.status is ResultStatus.FAILED and "terminated" in hook.message, hook
    await wait_for(
        lambda: kube.get_or_none("batch/v1", "Job", HOOK, namespace),
        lambda found: found is None,
        what="the running hook deleted",
    )
    assert await kube.get_or_none("v1", "ConfigMap", LATER, namespace) is None, (
        "the wave after the terminated hook was applied"
    )
    ready = await wait_for(
        lambda: use.get(rt, "hung"),
        lambda app: any(
            c["type"] == "Ready" and c.get("reason") == "SyncFailed"
            for c in app.status.get("conditions") or []
        ),
        what="Ready=False SyncFailed on the app",
    )
    condition = next(c for c in ready.status["conditions"] if c["type"] == "Ready")
    assert condition["status"] == "False" and "terminated" in condition["message"], condition
