"""A controller SIGKILLed right after each step boundary (every operation-state write) resumes
after restart and completes the operation exactly once: hooks created once, one history entry,
nothing left Running."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.conftest import CLUSTER_NAME
from tests.controller.conftest import StartController
from tests.support import audit
from tests.support.apps_fixtures import Repo
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.engine.operation import InitiatedBy, OperationRequest, SyncRequest
from tether.service import apps as use
from tether.service.runtime import Runtime

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
BOUNDARIES = [
    int(b) for b in __import__("os").environ.get("CRASH_BOUNDARIES", "").split(",") if b
] or range(1, 11)


def _wave(obj: dict, wave: int) -> dict:
    obj["metadata"].setdefault("annotations", {})["tether.dev/sync-wave"] = str(wave)
    return obj


def _hook_creations(namespace: str, since: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for w in audit.writes(CLUSTER_NAME, namespace, since):
        if (
            w.resource == "jobs"
            and w.verb in ("create", "patch")
            and w.code == 201
            and not w.dry_run
        ):
            counts[w.name] = counts.get(w.name, 0) + 1
    return counts


async def test_killed_at_every_step_boundary_completes_exactly_once(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    start_controller: StartController,
) -> None:
    repo = make_repo()
    repo.commit(
        "hooked",
        {
            "app/all.yaml": m.dump(
                m.job("pre", "PreSync"),
                _wave(m.config_map("first"), -1),
                m.deployment("web", 1),
                m.job("post", "PostSync"),
            )
        },
    )
    crashed_at = []
    for boundary in BOUNDARIES:
        name, dest = f"crash-{boundary}", f"{namespace}-c{boundary}"
        await use.create(
            rt,
            use.CreateOptions(
                name=name,
                repo_url=repo.url,
                path="app",
                dest_namespace=dest,
                sync_options=("CreateNamespace=true",),
            ),
        )
        app = await use.get(rt, name)
        since = audit.now_marker()
        await rt.store.request_operation(
            app.ref, OperationRequest(SyncRequest(), InitiatedBy(username="tester"))
        )

        doomed = start_controller(crash_after_persists=boundary, name=f"doomed-{boundary}")
        for _ in range(300):
            if doomed.proc.poll() is not None:
                break
            state = (await use.get(rt, name)).status.get("operationState") or {}
            if state.get("phase") == "Succeeded":
                break
            await asyncio.sleep(0.1)
        if doomed.proc.poll() is not None:
            crashed_at.append(boundary)
            assert doomed.proc.returncode == -9
        doomed.stop()

        survivor = start_controller(name=f"survivor-{boundary}")
        app = await wait_for(
            lambda n=name: use.get(rt, n),
            lambda a: (a.status.get("operationState") or {}).get("phase") == "Succeeded",
            what=f"operation of {name} completed after a crash at boundary {boundary}",
            timeout=60,
        )
        survivor.stop()

        assert _hook_creations(dest, since) == {"pre": 1, "post": 1}, f"boundary {boundary}"
        assert len(app.status["history"]) == 1
        assert app.operation is None
        assert (await kube.get("apps/v1", "Deployment", "web", dest))["metadata"]["annotations"]
        await kube.delete("v1", "Namespace", dest)
    assert len(crashed_at) >= 8, crashed_at  # most boundaries really were crash points
