"""Terminating an operation with no controller: an in-process executor hears a terminate request
at its next step boundary, the CLI finishes a termination nobody else would, and `tether app
terminate-op` on an app with nothing to stop says so in one line.

Each app has a Sync hook that never finishes (a suspended Job: assessed Suspended, neither
Healthy nor Degraded, so the hook keeps running) and a ConfigMap in a later wave that must never
be applied once the operation is terminated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.conftest import Cluster
from tests.support.apps_fixtures import Repo, tether_cli
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.engine.operation import OperationPhase, OperationState, ResultStatus
from tether.reconcile.events import ignore
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.executions import Execution
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster

HOOK = "wait-forever"
LATER = "later"


async def _hung_app(rt: Runtime, repo: Repo, name: str, namespace: str) -> None:
    """An app whose sync runs a hook that never finishes, with a ConfigMap in a later wave."""
    repo.commit(
        "a hook that never ends",
        {
            "app/all.yaml": m.dump(
                m.job(HOOK, "Sync", suspend=True), m.in_wave(m.config_map(LATER), 1)
            )
        },
    )
    await use.create(
        rt, use.CreateOptions(name=name, repo_url=repo.url, path="app", dest_namespace=namespace)
    )


async def _state(rt: Runtime, name: str) -> OperationState | None:
    return (await use.get(rt, name)).operation_state


def _hook_running(state: OperationState | None) -> bool:
    return (
        state is not None
        and state.phase is OperationPhase.RUNNING
        and any(r.key.name == HOOK and r.status is ResultStatus.RUNNING for r in state.resources)
    )


async def _wait_for_running_hook(rt: Runtime, kube: KubeClient, name: str, namespace: str) -> str:
    """Wait until the operation is Running with its hook created; its id."""
    state = await wait_for(
        lambda: _state(rt, name), _hook_running, what="the operation running its hook"
    )
    assert state is not None
    job = await kube.get("batch/v1", "Job", HOOK, namespace)
    assert job["metadata"]["annotations"]["tether.dev/operation-id"] == state.id
    return state.id


async def _assert_terminated(
    rt: Runtime, kube: KubeClient, name: str, namespace: str, state: OperationState, by: str
) -> None:
    """The operation failed as terminated by `by`, its hook is gone, the later wave never came,
    and the app's conditions say so."""
    assert state.phase is OperationPhase.FAILED, state
    assert state.message == f"operation terminated (terminate requested by {by})", state.message
    hook = next(r for r in state.resources if r.key.name == HOOK)
    assert hook.status is ResultStatus.FAILED and "terminated" in hook.message, hook
    await wait_for(
        lambda: kube.get_or_none("batch/v1", "Job", HOOK, namespace),
        lambda job: job is None,
        what="the running hook deleted",
    )
    assert await kube.get_or_none("v1", "ConfigMap", LATER, namespace) is None, (
        "the wave after the terminated hook was applied"
    )
    conditions = {c["type"]: c for c in (await use.get(rt, name)).status["conditions"]}
    ready = conditions["Ready"]
    assert ready["status"] == "False", ready
    assert ready["reason"] == "SyncFailed" and "terminated" in ready["message"], ready


async def test_the_in_process_executor_hears_a_terminate_at_its_next_step(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    """A sync run in this process (no controller) is stopped by a terminate request written
    meanwhile by someone else: it deletes the running hook and ends Failed; the run returns."""
    await _hung_app(rt, make_repo(), "hung", namespace)
    requested = await ops.sync(rt, "hung", ops.SyncArgs(), Execution.HERE_IF_NO_CONTROLLER)
    assert requested.here, "no controller runs: this process must"
    ref = (await use.get(rt, "hung")).ref
    running = asyncio.create_task(rt.orchestrator.run_to_end(ref, ignore, 120))
    try:
        await _wait_for_running_hook(rt, kube, "hung", namespace)

        answer = await ops.terminate(rt, "hung", "bob", Execution.CONTROLLER)  # only the request

        assert "stops at its next step boundary" in answer, answer
        state = await asyncio.wait_for(running, 30)
    finally:
        running.cancel()
    await _assert_terminated(rt, kube, "hung", namespace, state, "bob")


async def test_the_cli_finishes_a_termination_nobody_else_would(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient, cluster: Cluster
) -> None:
    """The process that ran a sync died mid-operation and no controller runs: `tether app
    terminate-op` ends the operation itself (deleting the running hook) and says how it ended."""
    await _hung_app(rt, make_repo(), "orphaned", namespace)
    await ops.sync(rt, "orphaned", ops.SyncArgs(), Execution.HERE_IF_NO_CONTROLLER)
    ref = (await use.get(rt, "orphaned")).ref
    running = asyncio.create_task(rt.orchestrator.run_to_end(ref, ignore, 120))
    operation = await _wait_for_running_hook(rt, kube, "orphaned", namespace)
    running.cancel()  # the executor dies; the operation stays Running in status
    await asyncio.gather(running, return_exceptions=True)

    done = await asyncio.to_thread(tether_cli, cluster, namespace, "terminate-op", "orphaned")

    assert done.returncode == 0, done.stdout + done.stderr
    said = " ".join((done.stdout + done.stderr).split())  # rich wraps long lines
    assert f"operation {operation[:8]} of orphaned" in said, said
    assert "operation terminated (terminate requested by cli)" in said, said
    state = await _state(rt, "orphaned")
    assert state is not None and state.id == operation
    await _assert_terminated(rt, kube, "orphaned", namespace, state, "cli")


async def test_terminate_op_with_no_operation_is_one_error_line(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, cluster: Cluster
) -> None:
    """Nothing to terminate: exit 1 with one `error:` line, no traceback."""
    repo = make_repo()
    repo.commit("one", {"app/cm.yaml": m.dump(m.config_map("c"))})
    await use.create(
        rt, use.CreateOptions(name="idle", repo_url=repo.url, path="app", dest_namespace=namespace)
    )

    done = await asyncio.to_thread(tether_cli, cluster, namespace, "terminate-op", "idle")

    output = done.stdout + done.stderr
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert done.returncode == 1, output
    assert errors == ["error: application idle has no running operation"], output
    assert "Traceback" not in output, output
