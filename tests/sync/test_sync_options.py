"""Sync options and operation parameters against the real cluster: selective and dry-run syncs,
FailOnSharedResource, Replace, Validate=false, CreateNamespace, PruneLast and Prune=false."""

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


async def test_selective_and_dry_run_syncs(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    repo.commit("two", {"app/all.yaml": m.dump(m.config_map("one"), m.config_map("two"))})
    await _app(rt, repo, "partial", namespace)

    dry = await ops.sync_to_end(rt, "partial", ops.SyncArgs(dry_run=True), lambda _: None)
    assert dry.phase is OperationPhase.SUCCEEDED and "dry run" in dry.message
    assert {r.message for r in dry.resources} == {"would create"}
    assert await kube.get_or_none("v1", "ConfigMap", "one", namespace) is None

    only = await ops.sync_to_end(
        rt, "partial", ops.SyncArgs(resources=(":ConfigMap:two",)), lambda _: None
    )
    assert only.phase is OperationPhase.SUCCEEDED
    assert await kube.get_or_none("v1", "ConfigMap", "one", namespace) is None
    assert await kube.get_or_none("v1", "ConfigMap", "two", namespace) is not None
    app = await use.get(rt, "partial")
    assert app.status["sync"]["status"] == "OutOfSync"  # "one" is still missing


async def test_fail_on_shared_resource(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    repo = make_repo()
    repo.commit("shared", {"app/cm.yaml": m.dump(m.config_map("shared"))})
    await _app(rt, repo, "first", namespace)
    assert (
        await ops.sync_to_end(rt, "first", ops.SyncArgs(), lambda _: None)
    ).phase is OperationPhase.SUCCEEDED
    await _app(rt, repo, "second", namespace, "FailOnSharedResource=true")

    state = await ops.sync_to_end(rt, "second", ops.SyncArgs(), lambda _: None)

    assert state.phase is OperationPhase.FAILED
    assert f"shared with application {namespace}/first" in state.message


async def test_replace_and_validate_false(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    odd = m.config_map("odd")
    odd["unknownField"] = "kept out by Strict validation"
    repo.commit("odd", {"app/cm.yaml": m.dump(odd)})
    await _app(rt, repo, "strict", namespace)
    strict = await ops.sync_to_end(rt, "strict", ops.SyncArgs(), lambda _: None)
    assert strict.phase in (OperationPhase.FAILED, OperationPhase.ERROR)
    assert "unknownField" in strict.message

    await _app(rt, repo, "lenient", namespace, "Validate=false", "Replace=true")
    lenient = await ops.sync_to_end(rt, "lenient", ops.SyncArgs(), lambda _: None)
    assert lenient.phase is OperationPhase.SUCCEEDED, lenient.message
    repo.commit("changed", {"app/cm.yaml": m.dump(m.config_map("odd", {"k": "replaced"}))})
    assert (
        await ops.sync_to_end(rt, "lenient", ops.SyncArgs(), lambda _: None)
    ).phase is OperationPhase.SUCCEEDED
    live = await kube.get("v1", "ConfigMap", "odd", namespace)
    assert live["data"] == {"k": "replaced"}
    writes = {(f["manager"], f["operation"]) for f in live["metadata"]["managedFields"]}
    assert ("tether", "Update") in writes  # written whole (create/replace), not server-side applied


async def test_create_namespace_prune_last_and_prune_false(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    keep = m.config_map("keep", annotations={"tether.dev/sync-options": "Prune=false"})
    repo.commit(
        "v1", {"app/all.yaml": m.dump(keep, m.config_map("gone"), m.job("after", "PostSync"))}
    )
    target_ns = f"{namespace}-made"
    await use.create(
        rt,
        use.CreateOptions(
            name="lifecycle",
            repo_url=repo.url,
            path="app",
            dest_namespace=target_ns,
            sync_options=("CreateNamespace=true", "PruneLast=true"),
        ),
    )
    assert (
        await ops.sync_to_end(rt, "lifecycle", ops.SyncArgs(), lambda _: None)
    ).phase is OperationPhase.SUCCEEDED
    assert await kube.get_or_none("v1", "Namespace", target_ns) is not None

    repo.commit("v2", {"app/all.yaml": m.dump(m.config_map("new"), m.job("after", "PostSync"))})
    state = await ops.sync_to_end(rt, "lifecycle", ops.SyncArgs(prune=True), lambda _: None)

    assert state.phase is OperationPhase.SUCCEEDED, state.message
    stages = [r.stage for r in state.resources]
    assert stages.index("PostSync") < stages.index("PruneLast")  # pruning came after PostSync
    kept = next(r for r in state.resources if r.key.name == "keep")
    assert kept.status == "PruneSkipped"
    assert await kube.get_or_none("v1", "ConfigMap", "keep", target_ns) is not None
    await wait_for(
        lambda: kube.get_or_none("v1", "ConfigMap", "gone", target_ns),
        lambda c: c is None,
        what="gone pruned",
    )
    await kube.delete("v1", "Namespace", target_ns)
