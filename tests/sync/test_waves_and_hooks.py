"""Waves and hooks run in order on the real cluster; a failing PreSync hook stops the sync and
runs the SyncFail hook."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import CLUSTER_NAME
from tests.support import audit
from tests.support.apps_fixtures import Repo
from tests.support.waiting import condition
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.engine.operation import OperationPhase
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


def _wave(obj: dict, wave: int) -> dict:
    obj["metadata"].setdefault("annotations", {})["tether.dev/sync-wave"] = str(wave)
    return obj


async def test_waves_and_hooks_run_in_order(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    repo.commit(
        "ordered",
        {
            "app/all.yaml": m.dump(
                m.job("pre", "PreSync"),
                _wave(m.config_map("first"), -1),
                m.deployment("web", 2),
                _wave(m.config_map("last"), 1),
                m.job("post", "PostSync"),
            )
        },
    )
    await use.create(
        rt,
        use.CreateOptions(name="ordered", repo_url=repo.url, path="app", dest_namespace=namespace),
    )
    since = audit.now_marker()

    state = await ops.sync_to_end(rt, "ordered", ops.SyncArgs(), lambda _: None)

    assert state.phase is OperationPhase.SUCCEEDED, state.message
    created = [
        w.name
        for w in audit.writes(CLUSTER_NAME, namespace, since)
        if w.verb == "patch"
        and not w.dry_run
        and w.code in (200, 201)
        and w.resource in ("jobs", "configmaps", "deployments")
    ]
    first_seen = list(dict.fromkeys(created))
    assert first_seen == ["pre", "first", "web", "last", "post"]
    for name in ("pre", "post"):
        hook = await kube.get("batch/v1", "Job", name, namespace)
        assert condition(hook, "Complete") == "True"
        assert hook["metadata"]["annotations"]["tether.dev/operation-id"] == state.id
    # Hooks are not part of the app's inventory: they are never pruned as stale objects.
    app = await use.get(rt, "ordered")
    assert {e["id"].split("_")[1] for e in app.status["inventory"]["entries"]} == {
        "first",
        "web",
        "last",
    }


async def test_failing_presync_hook_stops_the_sync_and_runs_syncfail(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    repo.commit(
        "broken migration",
        {
            "app/all.yaml": m.dump(
                m.job("migrate", "PreSync", fail=True),
                m.deployment("web", 1),
                m.job("on-fail", "SyncFail"),
            )
        },
    )
    await use.create(
        rt,
        use.CreateOptions(name="broken", repo_url=repo.url, path="app", dest_namespace=namespace),
    )

    state = await ops.sync_to_end(rt, "broken", ops.SyncArgs(), lambda _: None)

    assert state.phase is OperationPhase.FAILED
    assert "migrate" in state.message
    assert await kube.get_or_none("apps/v1", "Deployment", "web", namespace) is None
    on_fail = await kube.get("batch/v1", "Job", "on-fail", namespace)
    assert condition(on_fail, "Complete") == "True"
    app = await use.get(rt, "broken")
    ready = next(c for c in app.status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "SyncFailed"


async def test_resumed_hook_is_not_created_twice(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    """Before-hook-creation replaces a previous sync's hook, but one operation creates it once."""
    repo = make_repo()
    repo.commit("hooked", {"app/all.yaml": m.dump(m.job("pre", "PreSync"), m.config_map("c"))})
    await use.create(
        rt,
        use.CreateOptions(name="hooked", repo_url=repo.url, path="app", dest_namespace=namespace),
    )
    first = await ops.sync_to_end(rt, "hooked", ops.SyncArgs(), lambda _: None)
    uid_first = (await kube.get("batch/v1", "Job", "pre", namespace))["metadata"]["uid"]
    second = await ops.sync_to_end(rt, "hooked", ops.SyncArgs(), lambda _: None)
    job = await kube.get("batch/v1", "Job", "pre", namespace)
    assert first.phase is second.phase is OperationPhase.SUCCEEDED
    assert job["metadata"]["uid"] != uid_first  # replaced for the new operation
    assert job["metadata"]["annotations"]["tether.dev/operation-id"] == second.id
