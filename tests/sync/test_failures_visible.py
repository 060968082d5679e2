"""A failure is never only in a log: an empty render, an exception nobody foresaw in a sync or in
a refresh, and a comparison that fails under `tether app diff` each show on the app (status and
conditions, in one line) or on the command line (one `error:` line, exit 2); none of them prunes
anything or loses track of what was applied.

The unforeseen exceptions come from a fake at tether's own seam: an orchestrator composed as
`service.runtime.direct` composes it, whose destination client is the real one except that
`apply` raises.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from tests.conftest import CLUSTER_NAME, Cluster
from tests.support import audit
from tests.support.apps_fixtures import Repo, tether_cli
from tests.support.waiting import condition
from tests.sync import manifests as m
from tether.cluster.api import KubeAPI
from tether.cluster.registry import ClusterRegistry
from tether.engine import inventory
from tether.engine.operation import OperationPhase
from tether.policy.projectspecs import ProjectSpec
from tether.reconcile.admission import ProjectStore
from tether.reconcile.apps import Application
from tether.reconcile.orchestrator import Orchestrator
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.executions import Execution
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


# ---- helpers ---------------------------------------------------------------------------------


class FaultyApply:
    """The real client, except that `apply` raises `error` — for dry runs only (`dry_run=True`)
    or for real writes only (`dry_run=False`), of the object named `only` if given. Every other
    call goes to the real client."""

    def __init__(self, real: KubeAPI, error: Exception, *, dry_run: bool, only: str = "") -> None:
        self.real = real
        self.error = error
        self.dry_run = dry_run
        self.only = only

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def impersonating(self, user: str, groups: Sequence[str] = ()) -> FaultyApply:
        impersonated = self.real.impersonating(user, groups)
        return FaultyApply(impersonated, self.error, dry_run=self.dry_run, only=self.only)

    async def apply(self, obj: Mapping[str, Any], **kwargs: Any) -> Any:
        named = not self.only or obj["metadata"]["name"] == self.only
        if named and bool(kwargs.get("dry_run", False)) == self.dry_run:
            raise self.error
        return await self.real.apply(obj, **kwargs)


class FaultyClusters:
    """A ClusterRegistry handing out FaultyApply around each real destination client."""

    def __init__(self, real: ClusterRegistry, faulty: Callable[[KubeAPI], FaultyApply]) -> None:
        self.real = real
        self.faulty = faulty

    async def client(self, name: str) -> FaultyApply:
        return self.faulty(await self.real.client(name))


def _faulty(rt: Runtime, error: Exception, *, dry_run: bool, only: str = "") -> Orchestrator:
    """An orchestrator composed like the CLI's (`runtime.direct`) whose applies fail."""
    clusters = FaultyClusters(
        rt.clusters, lambda real: FaultyApply(real, error, dry_run=dry_run, only=only)
    )
    return Orchestrator(
        rt.store,
        clusters,  # type: ignore[arg-type]
        rt.repos,
        rt.projects,
        rules=lambda: rt.settings.health_rules,
        memos={},
    )


def _conditions(app: Application) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in app.status.get("conditions") or []}


def _tether_writes(namespace: str, since: str) -> list[audit.Write]:
    """Real writes to the destination namespace since then (not dry runs, not the app)."""
    return [
        w
        for w in audit.writes(CLUSTER_NAME, namespace, since)
        if not w.dry_run and w.resource != "applications" and w.code < 400
    ]


async def _app(rt: Runtime, repo: Repo, name: str, namespace: str) -> Application:
    return await use.create(
        rt, use.CreateOptions(name=name, repo_url=repo.url, path="app", dest_namespace=namespace)
    )


def _assert_refused_as_empty(app: Application) -> None:
    """Neither Synced nor Healthy: Unknown, with Ready=False EmptyRender and Stalled."""
    status = app.status
    assert status["sync"]["status"] == "Unknown", status["sync"]
    assert status["health"]["status"] == "Unknown", status["health"]
    conditions = _conditions(app)
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == (
        "False",
        "EmptyRender",
    ), conditions["Ready"]
    assert "allowEmpty" in conditions["Ready"]["message"], conditions["Ready"]
    assert conditions["Stalled"]["status"] == "True", conditions["Stalled"]


# ---- empty renders ---------------------------------------------------------------------------


async def test_an_app_whose_path_has_no_manifests_is_not_synced_or_healthy(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    """An app path with nothing to deploy, without allowEmpty, is refused: sync and health are
    Unknown and Ready=False says EmptyRender, before and after a sync is tried."""
    repo = make_repo()
    repo.commit("nothing yet", {"app/README.md": "manifests go here\n"})
    await _app(rt, repo, "hollow", namespace)

    _assert_refused_as_empty(await use.refresh(rt, "hollow"))
    state = await ops.sync_to_end(rt, "hollow", ops.SyncArgs(prune=True), lambda _: None)

    assert state.phase is OperationPhase.FAILED and "allowEmpty" in state.message, state
    _assert_refused_as_empty(await use.get(rt, "hollow"))
    _assert_refused_as_empty(await use.refresh(rt, "hollow"))


async def test_a_commit_that_empties_a_synced_app_prunes_nothing(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    """After a good sync, a commit that removes every manifest makes the app Unknown (never
    Synced/Healthy, whatever still runs), and `sync --prune` refuses and deletes nothing."""
    repo = make_repo()
    repo.commit("good", {"app/cm.yaml": m.dump(m.config_map("precious"))})
    await _app(rt, repo, "emptied", namespace)
    first = await ops.sync_to_end(rt, "emptied", ops.SyncArgs(), lambda _: None)
    assert first.phase is OperationPhase.SUCCEEDED, first.message
    synced = await use.refresh(rt, "emptied")
    assert (synced.status["sync"]["status"], synced.status["health"]["status"]) == (
        "Synced",
        "Healthy",
    )
    repo.commit("oops", {"app/README.md": "moved elsewhere\n"}, remove=("app/cm.yaml",))
    since = audit.now_marker()

    _assert_refused_as_empty(await use.refresh(rt, "emptied"))
    state = await ops.sync_to_end(rt, "emptied", ops.SyncArgs(prune=True), lambda _: None)

    assert state.phase is OperationPhase.FAILED and "allowEmpty" in state.message, state
    assert _tether_writes(namespace, since) == [], "the refused sync wrote something"
    assert await rt.kube.get_or_none("v1", "ConfigMap", "precious", namespace) is not None
    _assert_refused_as_empty(await use.get(rt, "emptied"))


# ---- unforeseen exceptions -------------------------------------------------------------------


async def test_an_exception_in_a_sync_ends_the_operation_with_error(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    """`apply` raising RuntimeError in the second wave ends the operation Error with one line
    (never left Running), the app's conditions say the sync failed, and what the first wave
    applied is still owned by the app."""
    repo = make_repo()
    files = m.dump(m.config_map("first"), m.in_wave(m.config_map("never"), 1))
    repo.commit("two waves", {"app/all.yaml": files})
    app = await _app(rt, repo, "doomed", namespace)
    faulty = _faulty(rt, RuntimeError("boom"), dry_run=False, only="never")

    state = await faulty.sync(app.ref, ops.sync_request(ops.SyncArgs()), timeout=60)

    assert state.phase is OperationPhase.ERROR, state
    assert state.message == "internal error: RuntimeError: boom", state.message
    stored = await use.get(rt, "doomed")
    written = stored.operation_state
    assert written is not None and written.id == state.id
    assert written.phase is OperationPhase.ERROR, "the operation was left Running"
    assert written.message == state.message and written.finished_at, written
    assert await rt.kube.get_or_none("v1", "ConfigMap", "first", namespace) is not None
    assert await rt.kube.get_or_none("v1", "ConfigMap", "never", namespace) is None
    refreshed = await use.refresh(rt, "doomed")
    for seen in (stored, refreshed):
        ready = _conditions(seen)["Ready"]
        assert (ready["status"], ready["reason"]) == ("False", "SyncFailed"), ready
        assert ready["message"] == "last sync failed: internal error: RuntimeError: boom", ready
    owned = {e.key.name for e in inventory.parse(refreshed.status.get("inventory"))}
    assert owned == {"first"}, "what the failed sync applied is not owned (nor ever pruned)"


async def test_an_exception_in_a_refresh_is_an_internal_error_condition(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    """A comparison that raises something unforeseen (here: the dry run) still shows on the
    app: Ready=False with reason InternalError, its first line only, no traceback in status."""
    repo = make_repo()
    repo.commit("one", {"app/cm.yaml": m.dump(m.config_map("compared"))})
    app = await _app(rt, repo, "glitchy", namespace)
    error = RuntimeError('kaput\nTraceback (most recent call last):\n  File "x.py", line 1')
    faulty = _faulty(rt, error, dry_run=True)

    refreshed = await faulty.refresh(app.ref)

    assert refreshed.error is not None and refreshed.error.reason == "InternalError"
    stored = await use.get(rt, "glitchy")
    ready = _conditions(stored)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "InternalError"), ready
    assert ready["message"] == "internal error: RuntimeError: kaput", ready
    assert stored.status["sync"]["status"] == "Unknown", stored.status["sync"]
    assert "Traceback" not in json.dumps(stored.status), "a traceback reached the status"
    assert condition(stored.body, "Stalled") == "False"  # the next refresh may well work


async def _malformed_cluster(rt: Runtime, name: str) -> None:
    """A cluster Secret whose `config` is not JSON (a hand-edited Secret, say)."""
    await rt.kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": f"cluster-{name}",
                "namespace": rt.settings.namespace,
                "labels": {"tether.dev/secret-type": "cluster"},
            },
            "stringData": {"name": name, "server": "https://192.0.2.1:6443", "config": "{oops"},
        }
    )


async def test_an_unreadable_cluster_secret_ends_the_operation_in_one_line(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    """A cluster Secret whose `config` is not JSON is a destination that cannot be reached:
    the refresh says ClusterUnavailable, the requested operation ends Error naming the Secret
    (never a value of it), and the request is not left behind to block every later sync."""
    await _malformed_cluster(rt, "mangled")
    repo = make_repo()
    repo.commit("one", {"app/cm.yaml": m.dump(m.config_map("c"))})
    await use.create(
        rt,
        use.CreateOptions(
            name="remote",
            repo_url=repo.url,
            path="app",
            dest_cluster="mangled",
            dest_namespace=namespace,
        ),
    )
    ready = _conditions(await use.refresh(rt, "remote"))["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "ClusterUnavailable"), ready
    assert "unreadable cluster Secret" in ready["message"] and "oops" not in ready["message"]

    state = await ops.sync_to_end(rt, "remote", ops.SyncArgs(), lambda _: None)

    assert state.phase is OperationPhase.ERROR, state
    assert "has an unreadable cluster Secret" in state.message, state.message
    app = await use.get(rt, "remote")
    assert app.operation is None, "the request was left in .operation"
    assert app.operation_state is not None and app.operation_state.id == state.id
    await ops.sync(rt, "remote", ops.SyncArgs(), Execution.HERE_IF_NO_CONTROLLER)  # not refused


class BrokenProjects(ProjectStore):
    """A project store that fails as no one foresaw (a bug in a lower layer, say)."""

    async def spec(self, name: str) -> ProjectSpec:
        raise RuntimeError("project lookup exploded")


async def test_an_exception_while_an_operation_starts_ends_it_with_error(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    """An unforeseen exception before the first step ends the requested operation Error in one
    line, like one in a step: it is not left requested forever, blocking every later sync."""
    repo = make_repo()
    repo.commit("one", {"app/cm.yaml": m.dump(m.config_map("c"))})
    await _app(rt, repo, "starting", namespace)
    broken = Orchestrator(
        rt.store, rt.clusters, rt.repos, BrokenProjects(rt.kube, rt.settings.namespace)
    )
    runtime = Runtime(rt.connections, rt.store, broken)

    state = await ops.sync_to_end(runtime, "starting", ops.SyncArgs(), lambda _: None)

    assert state.phase is OperationPhase.ERROR, state
    assert state.message == "internal error: RuntimeError: project lookup exploded", state
    app = await use.get(rt, "starting")
    assert app.operation is None, "the request was left in .operation"
    assert app.operation_state is not None and app.operation_state.id == state.id
    assert _conditions(app)["Ready"]["status"] == "False"


# ---- tether app diff -------------------------------------------------------------------------


async def _unreachable(rt: Runtime, repo: Repo, name: str) -> None:
    app = await use.get(rt, name)
    await rt.store.patch(
        app.ref, {"spec": {"source": {"repoURL": "git://127.0.0.1:9/nowhere.git"}}}
    )


async def _broken_yaml(rt: Runtime, repo: Repo, name: str) -> None:
    repo.commit("broken", {"app/cm.yaml": "kind: ConfigMap\nmetadata: {name: [unclosed\n"})


@pytest.mark.parametrize(
    ("breaks", "said"),
    [
        pytest.param(_unreachable, "127.0.0.1:9", id="unreachable-repository"),
        pytest.param(_broken_yaml, "RenderFailed", id="render-error"),
    ],
)
async def test_diff_exits_2_when_the_comparison_fails(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    cluster: Cluster,
    breaks: Callable[[Runtime, Repo, str], Any],
    said: str,
) -> None:
    """`tether app diff` exits 0 for no diff and 1 for a diff; a comparison that fails is
    neither: exit 2 and one `error:` line, no traceback."""
    repo = make_repo()
    repo.commit("one", {"app/cm.yaml": m.dump(m.config_map("c"))})
    await _app(rt, repo, "differ", namespace)
    differs = await asyncio.to_thread(tether_cli, cluster, namespace, "diff", "differ")
    assert differs.returncode == 1, differs.stdout + differs.stderr  # ConfigMap c is missing
    await breaks(rt, repo, "differ")

    done = await asyncio.to_thread(tether_cli, cluster, namespace, "diff", "differ")

    output = done.stdout + done.stderr
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert done.returncode == 2, output
    assert len(errors) == 1 and said in errors[0], output
    assert "Traceback" not in output, output
