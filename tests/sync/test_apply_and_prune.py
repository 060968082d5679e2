"""A plain-YAML app end to end: sync to Synced/Healthy, then a commit that changes, adds and
removes objects: the diff says exactly that, sync applies it, prune deletes only what it owns."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.apps_fixtures import Repo
from tests.support.waiting import condition, wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.engine.operation import OperationPhase
from tether.reconcile.events import StepEvent
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


async def _create(
    rt: Runtime, repo: Repo, name: str, namespace: str, path: str = "app", **kw: object
) -> None:
    await use.create(
        rt,
        use.CreateOptions(name=name, repo_url=repo.url, path=path, dest_namespace=namespace, **kw),
    )  # type: ignore[arg-type]


async def test_plain_yaml_app_becomes_synced_and_healthy(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    repo.commit(
        "first",
        {
            "app/web.yaml": m.dump(m.deployment("web", 2), m.service("web")),
            "app/config.yaml": m.dump(m.config_map("settings")),
        },
    )
    await _create(rt, repo, "plain", namespace)
    events: list[StepEvent] = []

    state = await ops.sync_to_end(rt, "plain", ops.SyncArgs(), events.append)

    assert state.phase is OperationPhase.SUCCEEDED, state.message
    app = await ops.wait(rt, "plain", ops.WaitFor(synced=True, healthy=True), timeout=60)
    assert app.status["sync"]["revision"].startswith("HEAD@sha1:")
    live = await kube.get("apps/v1", "Deployment", "web", namespace)
    assert condition(live, "Available") == "True"
    assert live["status"]["readyReplicas"] == 2
    assert (
        live["metadata"]["annotations"]["tether.dev/tracking-id"]
        == f"{namespace}_plain:apps/Deployment:{namespace}/web"
    )
    ids = {e["id"] for e in app.status["inventory"]["entries"]}
    assert ids == {
        f"{namespace}_web_apps_Deployment",
        f"{namespace}_web__Service",
        f"{namespace}_settings__ConfigMap",
    }
    ready = next(c for c in app.status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert [h["id"] for h in app.status["history"]] == [0]


async def test_commit_changes_are_diffed_applied_and_pruned_only_when_owned(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    repo.commit(
        "first",
        {
            "app/web.yaml": m.dump(m.deployment("web", 1)),
            "app/old.yaml": m.dump(m.config_map("old-settings")),
        },
    )
    await _create(rt, repo, "evolve", namespace)
    assert (
        await ops.sync_to_end(rt, "evolve", ops.SyncArgs(), lambda _: None)
    ).phase is OperationPhase.SUCCEEDED
    # An object nobody tracks, named like the app's, must survive every prune.
    await kube.apply(
        {
            **m.config_map("old-settings-copy"),
            "metadata": {"name": "old-settings-copy", "namespace": namespace},
        },
        field_manager="someone-else",
    )

    repo.commit(
        "scale up, add new, drop old",
        {
            "app/web.yaml": m.dump(m.deployment("web", 3)),
            "app/new.yaml": m.dump(m.config_map("new-settings")),
        },
        remove=("app/old.yaml",),
    )
    app = await use.get(rt, "evolve")
    comparison = await use.compare(rt, app)
    changed = {str(r.key): r.diff for r in comparison.resources if r.diff.changed}
    assert set(changed) == {
        f"Deployment.apps/{namespace}/web",
        f"ConfigMap/{namespace}/new-settings",
        f"ConfigMap/{namespace}/old-settings",
    }
    replica_lines = [
        ln
        for ln in changed[f"Deployment.apps/{namespace}/web"].text.splitlines()
        if ln.startswith(("-", "+")) and not ln.startswith(("---", "+++"))
    ]
    assert replica_lines == ["-  replicas: 1", "+  replicas: 3"]
    assert changed[f"ConfigMap/{namespace}/new-settings"].action == "create"
    assert changed[f"ConfigMap/{namespace}/old-settings"].action == "prune"

    # Without prune the removed object stays (and is reported as requiring pruning).
    assert (
        await ops.sync_to_end(rt, "evolve", ops.SyncArgs(), lambda _: None)
    ).phase is OperationPhase.SUCCEEDED
    assert await kube.get_or_none("v1", "ConfigMap", "old-settings", namespace) is not None
    assert (await kube.get("apps/v1", "Deployment", "web", namespace))["spec"]["replicas"] == 3
    app = await use.get(rt, "evolve")
    pruning = [r for r in app.status["resources"] if r.get("requiresPruning")]
    assert [r["name"] for r in pruning] == ["old-settings"]
    assert app.status["sync"]["status"] == "OutOfSync"

    state = await ops.sync_to_end(rt, "evolve", ops.SyncArgs(prune=True), lambda _: None)
    assert state.phase is OperationPhase.SUCCEEDED
    await wait_for(
        lambda: kube.get_or_none("v1", "ConfigMap", "old-settings", namespace),
        lambda cm: cm is None,
        what="old-settings pruned",
    )
    assert await kube.get_or_none("v1", "ConfigMap", "old-settings-copy", namespace) is not None
    app = await use.get(rt, "evolve")
    assert app.status["sync"]["status"] == "Synced"
    assert f"{namespace}_old-settings__ConfigMap" not in {
        e["id"] for e in app.status["inventory"]["entries"]
    }
