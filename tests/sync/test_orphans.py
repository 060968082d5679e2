"""Orphaned resources against the real control plane: a Project with `orphanedResources.warn`
lists exactly the hand-made top-level objects in its apps' destination namespace (not the apps'
own, not what a hand-made Deployment owns, not what Kubernetes puts in every namespace), says so
in a condition that changes nothing else, honours `ignore`, and lets go when the objects do; a
Project without `warn` costs no listing at all; the controller's engine lists once per resync."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import Cluster
from tests.support import crds as crds_support
from tests.support.apps_fixtures import Repo, tether_cli
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether import crds
from tether.cluster.client import KubeClient
from tether.engine.operation import OperationPhase
from tether.engine.tracking import AppRef
from tether.reconcile.compare import ApiLiveState
from tether.reconcile.orchestrator import Orchestrator
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster
WARNING = "OrphanedResourceWarning"
# Kinds the apps here never deploy: a GET of one during a refresh is the orphan listing.
LISTED_ONLY = ("deployments", "serviceaccounts", "roles", "persistentvolumeclaims")


@pytest_asyncio.fixture(loop_scope="session")
async def our_crds(kube: KubeClient, tether_installed: None) -> None:
    await crds_support.ensure_status_field(kube, "orphanedResources")


@pytest_asyncio.fixture(loop_scope="session")
async def dest(kube: KubeClient, namespace: str) -> AsyncIterator[str]:
    """The apps' destination: a namespace of its own, with what Kubernetes puts in each one."""
    name = f"{namespace[:50]}-d{uuid.uuid4().hex[:4]}"
    await kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for kind, what in (("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")):
        await wait_for(
            lambda kind=kind, what=what: kube.get_or_none("v1", kind, what, name),
            lambda found: found is not None,
            what=f"{kind} {what} in {name}",
        )
    yield name
    await kube.delete("v1", "Namespace", name)


async def _project(rt: Runtime, name: str, orphaned: dict[str, Any] | None) -> None:
    spec: dict[str, Any] = {
        "sourceRepos": ["*"],
        "destinations": [{"cluster": "*", "namespace": "*"}],
    }
    if orphaned is not None:
        spec["orphanedResources"] = orphaned
    body = {
        "apiVersion": crds.API_VERSION,
        "kind": "Project",
        "metadata": {"name": name, "namespace": rt.settings.namespace},
        "spec": spec,
    }
    await rt.kube.apply(body, field_manager="test", force=True)


async def _synced_app(rt: Runtime, repo: Repo, name: str, dest: str, project: str) -> AppRef:
    """An app deploying ConfigMap `settings` and Service `web` into `dest`, synced."""
    repo.commit("app", {"app/all.yaml": m.dump(m.config_map("settings"), m.service("web"))})
    opts = use.CreateOptions(
        name=name, repo_url=repo.url, path="app", dest_namespace=dest, project=project
    )
    await use.create(rt, opts)
    state = await ops.sync_to_end(rt, name, ops.SyncArgs())
    assert state.phase is OperationPhase.SUCCEEDED, state.message
    return AppRef(rt.settings.namespace, name)


async def _hand_made(kube: KubeClient, dest: str) -> None:
    """A ConfigMap and a Deployment made by hand, and the ReplicaSet the Deployment owns."""
    await kube.create(dict(m.config_map("debug"), metadata={"name": "debug", "namespace": dest}))
    toolbox = m.deployment("toolbox")
    toolbox["metadata"]["namespace"] = dest
    await kube.create(toolbox)
    await wait_for(
        lambda: kube.list("apps/v1", "ReplicaSet", dest),
        lambda found: len(found.items) == 1,
        what=f"the toolbox Deployment's ReplicaSet in {dest}",
    )


def _settled(status: dict[str, Any]) -> dict[str, Any]:
    """What orphans must not change: sync, health and the kstatus conditions."""
    kstatus = {
        c["type"]: (c["status"], c["reason"], c.get("message"))
        for c in status["conditions"]
        if c["type"] in ("Ready", "Reconciling", "Stalled")
    }
    sync = status["sync"]
    return {"sync": (sync["status"], sync["revision"]), "health": status["health"], **kstatus}


def _warning(status: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == WARNING), None)


def _names(status: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    return [
        (o["group"], o["version"], o["kind"], o["namespace"], o["name"])
        for o in status.get("orphanedResources") or []
    ]


def _listed(kube: KubeClient, before: Counter[tuple[str, str]]) -> dict[str, int]:
    """GETs since `before` of kinds only an orphan listing reads."""
    counts = kube.request_counts
    return {r: counts[("GET", r)] - before[("GET", r)] for r in LISTED_ONLY}


async def test_a_warning_project_lists_the_hand_made_objects_and_nothing_else(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    dest: str,
    our_crds: None,
    cluster: Cluster,
    namespace: str,
) -> None:
    await _project(rt, "watch", {"warn": True})
    ref = await _synced_app(rt, make_repo(), "shop", dest, "watch")
    clean = dict((await rt.orchestrator.refresh(ref)).app.status)
    assert "orphanedResources" not in clean and _warning(clean) is None
    assert clean["conditions"][0]["type"] == "Ready" and clean["conditions"][0]["status"] == "True"

    await _hand_made(rt.kube, dest)
    before = Counter(rt.kube.request_counts)
    status = dict((await rt.orchestrator.refresh(ref)).app.status)

    assert _names(status) == [
        ("", "v1", "ConfigMap", dest, "debug"),
        ("apps", "v1", "Deployment", dest, "toolbox"),
    ]
    warning = _warning(status)
    assert warning is not None and warning["status"] == "True", status["conditions"]
    assert warning["reason"] == "OrphanedResources"
    assert warning["message"] == (
        f"2 orphaned resource(s) in namespace {dest}: "
        f"ConfigMap/{dest}/debug, Deployment.apps/{dest}/toolbox"
    )
    assert _settled(status) == _settled(clean)
    assert all(n > 0 for n in _listed(rt.kube, before).values())  # it did list the namespace

    shown = tether_cli(cluster, namespace, "get", "shop")
    assert shown.returncode == 0, shown.stderr
    assert "orphaned resources (2)" in shown.stdout and "toolbox" in shown.stdout, shown.stdout
    assert f"condition {WARNING}=True (OrphanedResources)" in shown.stdout

    # An ignore entry (a name glob) takes the Deployment off the list.
    ignore = [{"group": "apps", "kind": "Deployment", "name": "tool*"}]
    await _project(rt, "watch", {"warn": True, "ignore": ignore})
    status = dict((await rt.orchestrator.refresh(ref)).app.status)
    assert _names(status) == [("", "v1", "ConfigMap", dest, "debug")]
    warning = _warning(status)
    assert warning is not None and warning["message"].startswith("1 orphaned resource(s)")
    assert _settled(status) == _settled(clean)

    # Gone: the warning and the list go too.
    await rt.kube.delete("v1", "ConfigMap", "debug", dest)
    await rt.kube.delete("apps/v1", "Deployment", "toolbox", dest)
    status = dict((await rt.orchestrator.refresh(ref)).app.status)
    assert "orphanedResources" not in status and _warning(status) is None, status
    assert _settled(status) == _settled(clean)


async def test_a_project_without_warn_lists_nothing(
    rt: Runtime, make_repo: Callable[[], Repo], dest: str, our_crds: None
) -> None:
    await _project(rt, "quiet", None)
    ref = await _synced_app(rt, make_repo(), "calm", dest, "quiet")
    await _hand_made(rt.kube, dest)

    before = Counter(rt.kube.request_counts)
    status = dict((await rt.orchestrator.refresh(ref)).app.status)

    assert "orphanedResources" not in status and _warning(status) is None
    assert _listed(rt.kube, before) == dict.fromkeys(LISTED_ONLY, 0)

    # Warning, then warn turned off: the project's change clears what was reported.
    await _project(rt, "quiet", {"warn": True})
    assert len(_names(dict((await rt.orchestrator.refresh(ref)).app.status))) == 2
    await _project(rt, "quiet", {"warn": False})
    before = Counter(rt.kube.request_counts)
    status = dict((await rt.orchestrator.refresh(ref)).app.status)
    assert "orphanedResources" not in status and _warning(status) is None
    assert _listed(rt.kube, before) == dict.fromkeys(LISTED_ONLY, 0)


async def test_the_controllers_engine_lists_once_per_resync(
    rt: Runtime, make_repo: Callable[[], Repo], dest: str, our_crds: None
) -> None:
    await _project(rt, "watch", {"warn": True})
    ref = await _synced_app(rt, make_repo(), "busy", dest, "watch")
    await _hand_made(rt.kube, dest)
    # Configured like the controller's: live state from a (here: API-backed) cache, diff memos.
    engine = Orchestrator(
        rt.store,
        rt.clusters,
        rt.repos,
        rt.projects,
        live_for=lambda _cluster, client: ApiLiveState(client),
        memos={},
    )

    async def refresh() -> tuple[list[tuple[str, ...]], dict[str, int]]:
        before = Counter(rt.kube.request_counts)
        status = dict((await engine.refresh(ref)).app.status)
        return _names(status), _listed(rt.kube, before)

    first, listed = await refresh()
    assert len(first) == 2 and all(n > 0 for n in listed.values())
    again, listed = await refresh()
    assert again == first and listed == dict.fromkeys(LISTED_ONLY, 0)  # the listing is reused
    await rt.kube.delete("v1", "ConfigMap", "debug", dest)
    engine.forget(ref)  # what a hard refresh does: compare (and list) afresh
    after, listed = await refresh()
    assert [n[-1] for n in after] == ["toolbox"] and all(n > 0 for n in listed.values())
