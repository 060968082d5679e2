"""`tether app tree` and a person's sync of an app whose dependency is not Ready (no
controller: the CLI runs it, and refuses it unless told)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import Cluster
from tests.support.apps_fixtures import Repo, tether_cli
from tests.sync import manifests as m
from tether.engine.operation import OperationPhase
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


async def test_tree_and_a_refused_sync(
    rt: Runtime, cluster: Cluster, make_repo: Callable[[], Repo], namespace: str
) -> None:
    repo = make_repo()
    repo.commit("c", {"app/cm.yaml": m.dump(m.config_map("c"))})

    async def app(name: str, *deps: str) -> None:
        opts = use.CreateOptions(
            name=name, repo_url=repo.url, path="app", dest_namespace=namespace, depends_on=deps
        )
        await use.create(rt, opts)

    await app("base")
    await app("middle", "base")
    await app("top", "middle", "ghost")

    tree = tether_cli(cluster, namespace, "tree", "middle")
    assert tree.returncode == 0, tree.stderr
    lines = tree.stdout.splitlines()
    assert f"{namespace}/middle" in lines[0], tree.stdout
    depends_on, needed_by = (
        lines.index(next(x for x in lines if "depends on" in x)),
        next(i for i, x in enumerate(lines) if "needed by" in x),
    )
    assert any(f"{namespace}/base" in x for x in lines[depends_on:needed_by]), tree.stdout
    assert any(f"{namespace}/top" in x for x in lines[needed_by:]), tree.stdout
    assert "Traceback" not in tree.stderr

    refused = await ops.sync_to_end(rt, "middle", ops.SyncArgs(), lambda _e: None)
    assert refused.phase is OperationPhase.ERROR
    assert f"waiting for dependency {namespace}/base: not reconciled yet" in refused.message, (
        refused.message
    )
    ghost = await ops.sync_to_end(rt, "top", ops.SyncArgs(), lambda _e: None)
    assert f"dependency {namespace}/ghost does not exist" in ghost.message, ghost.message
    top = await use.refresh(rt, "top")
    ready = next(c for c in top.status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "DependencyMissing", ready

    forced = await ops.sync_to_end(
        rt, "middle", ops.SyncArgs(ignore_dependencies=True), lambda _e: None
    )
    assert forced.phase is OperationPhase.SUCCEEDED, forced.message
