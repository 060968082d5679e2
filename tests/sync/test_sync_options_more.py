"""More sync options on the real cluster, each proved by what the API server saw: app-level
Prune=false and ApplyOutOfSyncOnly=false, and the per-object options Replace=true,
Delete=false and SkipDryRunOnMissingResource=true; an unknown per-object option is a render
error that applies nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import CLUSTER_NAME
from tests.support import audit, customkinds
from tests.support.apps_fixtures import Repo
from tests.support.gitserver import FileSpec
from tests.support.waiting import condition, wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.engine import inventory
from tether.engine.operation import OperationPhase, OperationState
from tether.reconcile.apps import Application
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.runtime import Runtime, open_runtime

pytestmark = pytest.mark.cluster

OPTIONS = "tether.dev/sync-options"


# ---- helpers ---------------------------------------------------------------------------------


async def _app(rt: Runtime, repo: Repo, name: str, namespace: str, *options: str) -> None:
    await use.create(
        rt,
        use.CreateOptions(
            name=name,
            repo_url=repo.url,
            path="app",
            dest_namespace=namespace,
            sync_options=tuple(options),
        ),
    )


async def _sync(rt: Runtime, name: str, prune: bool = False) -> OperationState:
    return await ops.sync_to_end(rt, name, ops.SyncArgs(prune=prune), lambda _: None)


async def _synced(rt: Runtime, name: str, prune: bool = False) -> OperationState:
    state = await _sync(rt, name, prune)
    assert state.phase is OperationPhase.SUCCEEDED, state.message
    return state


def _ready(app: Application) -> dict[str, Any]:
    return next(c for c in app.status["conditions"] if c["type"] == "Ready")


def _inventory_names(app: Application) -> set[str]:
    return {e.key.name for e in inventory.parse(app.status.get("inventory"))}


def _writes(namespace: str, since: str, resource: str) -> list[tuple[str, str]]:
    """(verb, name) of every real (not dry-run) write tether made to `resource` since then."""
    return [
        (w.verb, w.name)
        for w in audit.writes(CLUSTER_NAME, namespace, since)
        if w.resource == resource and not w.dry_run and w.code < 400
    ]


# ---- app-level options -----------------------------------------------------------------------


async def test_app_level_prune_false_releases_instead_of_deleting(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    """With Prune=false on the app, an object that left Git survives `sync --prune`: its result
    is PruneSkipped, it is released from the inventory, and it stays in the cluster."""
    repo = make_repo()
    repo.commit("two", {"app/all.yaml": m.dump(m.config_map("stays"), m.config_map("other"))})
    await _app(rt, repo, "careful", namespace, "Prune=false")
    await _synced(rt, "careful")
    assert _inventory_names(await use.get(rt, "careful")) == {"stays", "other"}
    repo.commit("one left", {"app/all.yaml": m.dump(m.config_map("other"))})

    state = await _synced(rt, "careful", prune=True)

    result = next(r for r in state.resources if r.key.name == "stays")
    assert str(result.status) == "PruneSkipped", result
    assert await kube.get_or_none("v1", "ConfigMap", "stays", namespace) is not None
    assert _inventory_names(await use.get(rt, "careful")) == {"other"}, "still tracked"
    await _synced(rt, "careful", prune=True)  # released: never a prune candidate again
    assert await kube.get_or_none("v1", "ConfigMap", "stays", namespace) is not None


async def test_apply_out_of_sync_only_false_writes_everything_again(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    """A second sync with nothing changed writes nothing by default; with
    ApplyOutOfSyncOnly=false it patches every object again (the audit log shows the PATCH)."""
    for name, options in (("lazy", ()), ("eager", ("ApplyOutOfSyncOnly=false",))):
        repo = make_repo()
        repo.commit("one", {"app/cm.yaml": m.dump(m.config_map(f"{name}-cm"))})
        await _app(rt, repo, name, namespace, *options)
        await _synced(rt, name)
    since = audit.now_marker()

    await _synced(rt, "lazy")
    assert _writes(namespace, since, "configmaps") == [], "an unchanged object was written"
    await _synced(rt, "eager")

    assert _writes(namespace, since, "configmaps") == [("patch", "eager-cm")]


async def test_an_unknown_app_level_option_prunes_nothing(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    """A typo in spec.syncPolicy.syncOptions (written by kubectl, past tether's own checks)
    must not prune what its author meant to protect: the sync refuses, naming the option."""
    repo = make_repo()
    repo.commit("two", {"app/all.yaml": m.dump(m.config_map("stays"), m.config_map("other"))})
    await _app(rt, repo, "typo-app", namespace)
    await _synced(rt, "typo-app")
    app = await use.get(rt, "typo-app")
    await rt.store.patch(app.ref, {"spec": {"syncPolicy": {"syncOptions": ["Purne=false"]}}})
    typoed = await use.get(rt, "typo-app")
    assert typoed.raw_spec["syncPolicy"]["syncOptions"] == ["Purne=false"]
    repo.commit("one left", {"app/all.yaml": m.dump(m.config_map("other"))})

    state = await _sync(rt, "typo-app", prune=True)

    assert await kube.get_or_none("v1", "ConfigMap", "stays", namespace) is not None, (
        "pruned despite the (misspelt) Prune=false"
    )
    assert state.phase in (OperationPhase.FAILED, OperationPhase.ERROR), state
    assert "Purne" in state.message, state.message


# ---- per-object options ----------------------------------------------------------------------


async def test_replace_true_writes_one_object_whole(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    """Replace=true on one object: it is created with POST and updated with PUT; the other is
    server-side applied (PATCH), both when created and when changed."""
    repo = make_repo()

    def files(value: str) -> dict[str, FileSpec]:
        whole = m.config_map("whole", {"k": value}, annotations={OPTIONS: "Replace=true"})
        return {"app/all.yaml": m.dump(whole, m.config_map("applied", {"k": value}))}

    repo.commit("v1", files("1"))
    await _app(rt, repo, "mixed", namespace)
    since = audit.now_marker()

    await _synced(rt, "mixed")

    assert sorted(_writes(namespace, since, "configmaps")) == [
        ("create", "whole"),
        ("patch", "applied"),
    ]
    repo.commit("v2", files("2"))
    since = audit.now_marker()

    await _synced(rt, "mixed")

    assert sorted(_writes(namespace, since, "configmaps")) == [
        ("patch", "applied"),
        ("update", "whole"),
    ]


async def test_delete_false_outlives_a_cascading_delete(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    """Deleting the app with cascade (no controller: this process runs the resources
    finalizer) deletes its objects but the one that says Delete=false."""
    repo = make_repo()
    kept = m.config_map("kept", annotations={OPTIONS: "Delete=false"})
    repo.commit("two", {"app/all.yaml": m.dump(kept, m.config_map("removed"))})
    await _app(rt, repo, "leaving", namespace)
    await _synced(rt, "leaving")

    deleted = await use.delete(rt, "leaving", cascade=True)

    assert [k.name for k in deleted.objects] == ["removed"], deleted
    await wait_for(
        lambda: kube.get_or_none("v1", "ConfigMap", "removed", namespace),
        lambda found: found is None,
        what="removed deleted with the app",
    )
    assert await kube.get_or_none("v1", "ConfigMap", "kept", namespace) is not None
    assert await use.find(rt, "leaving") is None, "the app is still there"


# ---- SkipDryRunOnMissingResource -------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def widgets(kube: KubeClient) -> AsyncIterator[customkinds.Widgets]:
    async with customkinds.widgets(kube) as kind:
        yield kind


async def test_a_missing_kind_without_skip_dry_run_is_a_render_error(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    widgets: customkinds.Widgets,
) -> None:
    """A custom resource whose CRD is neither installed nor part of the app stalls the app
    with RenderFailed, and its sync applies nothing."""
    repo = make_repo()
    repo.commit("widget", {"app/all.yaml": m.dump(widgets.widget("w"), m.config_map("alongside"))})
    await _app(rt, repo, "strict", namespace)

    app = await use.refresh(rt, "strict")
    state = await _sync(rt, "strict")

    ready = _ready(app)
    assert (ready["status"], ready["reason"]) == ("False", "RenderFailed"), ready
    assert "not served by the destination cluster" in ready["message"], ready
    assert condition(app.body, "Stalled") == "True"
    assert state.phase in (OperationPhase.FAILED, OperationPhase.ERROR), state
    assert "not served by the destination cluster" in state.message, state.message
    assert await kube.get_or_none("v1", "ConfigMap", "alongside", namespace) is None


async def test_skip_dry_run_on_missing_resource_waits_for_the_crd(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    widgets: customkinds.Widgets,
) -> None:
    """SkipDryRunOnMissingResource=true: the app compares (the widget as written, no dry run),
    its sync fails on the widget with a clear message, and once the CRD is installed the next
    sync (another CLI command) succeeds. tests/controller/test_missing_kinds.py: the same engine
    (a controller's) after the CRD is installed."""
    repo = make_repo()
    skip = {OPTIONS: "SkipDryRunOnMissingResource=true"}
    repo.commit(
        "widget",
        {"app/all.yaml": m.dump(widgets.widget("w", skip), m.config_map("alongside"))},
    )
    await _app(rt, repo, "patient", namespace)

    comparison = await use.compare_named(rt, "patient")
    app = await use.refresh(rt, "patient")

    widget = next(r for r in comparison.resources if r.key.kind == "Widget")
    assert widget.live is None and widget.target is not None
    assert widget.diff.changed, "a widget that does not exist yet is out of sync"
    assert app.status["sync"]["status"] == "OutOfSync", app.status["sync"]
    reasons = {c.get("reason") for c in app.status["conditions"]}
    assert not reasons & {"DryRunFailed", "RenderFailed"}, app.status["conditions"]

    failed = await _sync(rt, "patient")

    assert failed.phase is OperationPhase.FAILED, failed
    assert "Widget" in failed.message and widgets.api_version in failed.message, failed.message
    result = next(r for r in failed.resources if r.key.kind == "Widget")
    assert str(result.status) == "SyncFailed", result
    assert "no resource type Widget" in result.message, result.message
    ready = _ready(await use.get(rt, "patient"))
    assert (ready["status"], ready["reason"]) == ("False", "SyncFailed"), ready

    await widgets.install()
    async with open_runtime(rt.settings) as later:  # the next `tether app sync`
        state = await _sync(later, "patient")
        refreshed = await use.refresh(later, "patient")

    assert state.phase is OperationPhase.SUCCEEDED, state.message
    live = await kube.get(widgets.api_version, "Widget", "w", namespace)
    assert live["size"] == 3
    assert refreshed.status["sync"]["status"] == "Synced", refreshed.status["sync"]


# ---- unknown options -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "said"),
    [
        pytest.param("Prune=flase", "Prune must be true or false, got 'flase'", id="bad-value"),
        pytest.param(
            "Purne=false", "unknown tether.dev/sync-options entry 'Purne=false'", id="bad-name"
        ),
    ],
)
async def test_an_unknown_per_object_option_applies_nothing(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    typo: str,
    said: str,
) -> None:
    """A typo in tether.dev/sync-options must not silently prune (or keep) anything: the app
    stalls with RenderFailed naming the object, and the sync writes nothing."""
    repo = make_repo()
    typoed = m.config_map("typoed", annotations={OPTIONS: typo})
    repo.commit("typo", {"app/all.yaml": m.dump(typoed, m.config_map("fine"))})
    await _app(rt, repo, "typo", namespace)
    since = audit.now_marker()

    state = await _sync(rt, "typo", prune=True)

    assert state.phase in (OperationPhase.FAILED, OperationPhase.ERROR), state
    assert state.message.startswith(f"ConfigMap/{namespace}/typoed: "), state.message
    assert said in state.message, state.message
    ready = _ready(await use.get(rt, "typo"))
    assert (ready["status"], ready["reason"]) == ("False", "RenderFailed"), ready
    assert ready["message"] == state.message, ready
    assert _writes(namespace, since, "configmaps") == [], "something was applied"
    assert await kube.get_or_none("v1", "ConfigMap", "fine", namespace) is None
