"""Event-driven drift: self-heal corrects a manual edit at once; without self-heal it is reported
(who changed what, from managedFields); observe-only never writes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.controller.conftest import StartController
from tests.support.apps_fixtures import Repo
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.service import apps as use
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


def _image(d: dict) -> str:
    return str(d["spec"]["template"]["spec"]["containers"][0]["image"])


async def _manual_edit(kube: KubeClient, namespace: str, image: str) -> None:
    edit = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
    }
    await kube.apply(edit, field_manager="kubectl-edit", force=True)


async def _drift_events(kube: KubeClient, namespace: str) -> list[str]:
    events = (await kube.list("events.k8s.io/v1", "Event", namespace)).items
    return [e.get("note", "") for e in events if e.get("reason") == "DriftDetected"]


async def _web_app(rt: Runtime, repo: Repo, namespace: str, name: str, *, self_heal: bool) -> None:
    """One automated app deploying Deployment `web` (image web:1) from `repo`."""
    repo.commit(
        "web", {"app/web.yaml": m.dump(m.deployment("web", 1, image="registry.invalid/web:1"))}
    )
    await use.create(
        rt,
        use.CreateOptions(
            name=name,
            repo_url=repo.url,
            path="app",
            dest_namespace=namespace,
            automated=True,
            self_heal=self_heal,
        ),
    )


async def test_self_heal_restores_a_manual_edit(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    start_controller: StartController,
) -> None:
    await _web_app(rt, make_repo(), namespace, "healed", self_heal=True)
    ctl = start_controller()
    await wait_for(
        lambda: kube.get_or_none("apps/v1", "Deployment", "web", namespace),
        lambda d: d is not None,
        what="the controller's first sync",
    )

    await _manual_edit(kube, namespace, "registry.invalid/web:hotfix")

    await wait_for(
        lambda: kube.get("apps/v1", "Deployment", "web", namespace),
        lambda d: _image(d) == "registry.invalid/web:1",
        what="self-heal",
        timeout=20,
    )
    notes = await wait_for(
        lambda: _drift_events(kube, namespace), bool, what="a DriftDetected event"
    )
    assert "kubectl-edit" in notes[0] and "Deployment.apps" in notes[0]
    await wait_for(
        lambda: asyncio.to_thread(ctl.metric, "tether_drift_corrected_total"),
        lambda v: v >= 1,
        what="the drift-corrected metric",
    )


async def test_an_edit_inside_the_self_heal_backoff_is_healed_after_it(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    start_controller: StartController,
) -> None:
    """Regression: an edit right after a sync is postponed by the backoff, and must not be
    forgotten as "settled" (its inputs never change again, so nothing else would wake it)."""
    await _web_app(rt, make_repo(), namespace, "postponed", self_heal=True)
    start_controller("--self-heal-backoff", "4")
    await wait_for(
        lambda: use.get(rt, "postponed"),
        lambda a: (a.status.get("operationState") or {}).get("phase") == "Succeeded",
        what="the first sync",
    )

    await _manual_edit(kube, namespace, "registry.invalid/web:hotfix")

    await wait_for(
        lambda: kube.get("apps/v1", "Deployment", "web", namespace),
        lambda d: _image(d) == "registry.invalid/web:1",
        what="self-heal once the backoff is over",
        timeout=20,
    )


async def test_drift_without_self_heal_is_reported_not_corrected(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    start_controller: StartController,
) -> None:
    await _web_app(rt, make_repo(), namespace, "watched", self_heal=False)
    start_controller()
    await wait_for(
        lambda: use.get(rt, "watched"),
        lambda a: a.status.get("sync", {}).get("status") == "Synced",
        what="first sync",
    )

    await _manual_edit(kube, namespace, "registry.invalid/web:hotfix")

    app = await wait_for(
        lambda: use.get(rt, "watched"),
        lambda a: a.status.get("sync", {}).get("status") == "OutOfSync",
        what="OutOfSync",
    )
    notes = await wait_for(
        lambda: _drift_events(kube, namespace), bool, what="a DriftDetected event"
    )
    assert "kubectl-edit" in notes[0]
    await asyncio.sleep(2)  # give a (wrong) self-heal every chance to happen
    assert (
        _image(await kube.get("apps/v1", "Deployment", "web", namespace))
        == "registry.invalid/web:hotfix"
    )
    assert app.status["resources"][0]["status"] == "OutOfSync"


async def test_observe_only_reports_but_never_writes(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    start_controller: StartController,
) -> None:
    existing = {**m.deployment("web", 1, image="registry.invalid/web:old")}
    existing["metadata"] = {"name": "web", "namespace": namespace}
    before = await kube.apply(existing, field_manager="legacy-tool")
    repo = make_repo()
    repo.commit(
        "adopt", {"app/web.yaml": m.dump(m.deployment("web", 1, image="registry.invalid/web:1"))}
    )
    await use.create(
        rt,
        use.CreateOptions(
            name="adopt",
            repo_url=repo.url,
            path="app",
            dest_namespace=namespace,
            automated=True,
            self_heal=True,
            auto_prune=True,
        ),
    )
    app = await use.get(rt, "adopt")
    await rt.store.patch(
        app.ref, {"metadata": {"annotations": {"tether.dev/observe-only": "true"}}}
    )
    start_controller()

    app = await wait_for(
        lambda: use.get(rt, "adopt"),
        lambda a: a.status.get("sync", {}).get("status") == "OutOfSync",
        what="the diff reported",
    )
    repo.commit(
        "newer", {"app/web.yaml": m.dump(m.deployment("web", 2, image="registry.invalid/web:2"))}
    )
    await wait_for(
        lambda: use.get(rt, "adopt"),
        lambda a: a.status.get("sync", {}).get("revision", "") != app.status["sync"]["revision"],
        what="the new commit compared",
    )
    await asyncio.sleep(2)
    after = await kube.get("apps/v1", "Deployment", "web", namespace)
    # Status updates by the controller-manager move resourceVersion; tether must not move anything.
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert _image(after) == "registry.invalid/web:old"
    assert {f["manager"] for f in after["metadata"]["managedFields"]} == {
        "legacy-tool",
        "kube-controller-manager",
    }
    assert "operationState" not in (await use.get(rt, "adopt")).status
