"""Manual changes show as drift and are restored by sync (ignored fields stay as the other manager
set them); rollback to a history entry restores that revision's objects."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.apps_fixtures import Repo
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.engine.operation import OperationPhase
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


async def test_manual_change_is_drift_and_ignored_fields_stay(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    repo.commit(
        "web", {"app/web.yaml": m.dump(m.deployment("web", 2, image="registry.invalid/web:1"))}
    )
    await use.create(
        rt,
        use.CreateOptions(
            name="drift",
            repo_url=repo.url,
            path="app",
            dest_namespace=namespace,
            sync_options=("RespectIgnoreDifferences=true",),
        ),
    )
    await rt.store.patch(
        (await use.get(rt, "drift")).ref,
        {
            "spec": {
                "ignoreDifferences": [
                    {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}
                ]
            }
        },
    )
    assert (
        await ops.sync_to_end(rt, "drift", ops.SyncArgs(), lambda _: None)
    ).phase is OperationPhase.SUCCEEDED

    # Someone else takes over the image (ours) and the replica count (ignored).
    manual = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 5,
            "template": {
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/web:hotfix"}]}
            },
        },
    }
    await kube.apply(manual, field_manager="kubectl-edit", force=True)

    comparison = await use.compare(rt, await use.get(rt, "drift"))
    web = next(r for r in comparison.resources if r.key.name == "web")
    assert comparison.sync_status == "OutOfSync"
    changed = [
        ln for ln in web.diff.text.splitlines() if ln[:1] in "+-" and ln[:3] not in ("---", "+++")
    ]
    assert changed == [
        "-      - image: registry.invalid/web:hotfix",
        "+      - image: registry.invalid/web:1",
    ]

    assert (
        await ops.sync_to_end(rt, "drift", ops.SyncArgs(), lambda _: None)
    ).phase is OperationPhase.SUCCEEDED
    live = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.invalid/web:1"
    assert live["spec"]["replicas"] == 5
    assert (await use.get(rt, "drift")).status["sync"]["status"] == "Synced"


async def test_rollback_restores_a_previous_revision(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    first = repo.commit("v1", {"app/cm.yaml": m.dump(m.config_map("settings", {"version": "1"}))})
    await use.create(
        rt, use.CreateOptions(name="roll", repo_url=repo.url, path="app", dest_namespace=namespace)
    )
    assert (
        await ops.sync_to_end(rt, "roll", ops.SyncArgs(), lambda _: None)
    ).phase is OperationPhase.SUCCEEDED
    repo.commit(
        "v2",
        {
            "app/cm.yaml": m.dump(m.config_map("settings", {"version": "2"})),
            "app/extra.yaml": m.dump(m.config_map("extra")),
        },
    )
    assert (
        await ops.sync_to_end(rt, "roll", ops.SyncArgs(), lambda _: None)
    ).phase is OperationPhase.SUCCEEDED
    history = (await use.get(rt, "roll")).status["history"]
    assert [h["id"] for h in history] == [0, 1]
    assert history[0]["revision"] == f"HEAD@sha1:{first}"
    assert history[0]["message"].strip() == "v1" and "Ada Lovelace" in history[0]["author"]
    assert history[1]["initiatedBy"] == {"username": "cli"}

    state = await ops.rollback_to_end(rt, "roll", 0, ops.SyncArgs(prune=True), lambda _: None)

    assert state.phase is OperationPhase.SUCCEEDED, state.message
    assert (await kube.get("v1", "ConfigMap", "settings", namespace))["data"] == {"version": "1"}
    await wait_for(
        lambda: kube.get_or_none("v1", "ConfigMap", "extra", namespace),
        lambda cm: cm is None,
        what="extra pruned by the rollback",
    )
    app = await use.get(rt, "roll")
    assert app.status["history"][-1]["revision"].endswith(first)
    # Rollback is a one-off sync: the spec still follows HEAD, so the app shows OutOfSync.
    assert app.status["sync"]["status"] == "OutOfSync"
