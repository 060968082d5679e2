"""dependsOn against three real control planes and a real controller: infrastructure (a CRD and
its operator's Deployment) goes first in every cluster and the apps that use the CRD wait for
it; a cycle stops every app in it until it is broken; a dependency that turns Degraded holds its
dependents' next sync (not their current state) until it recovers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cluster
from tests.controller.conftest import StartController
from tests.support.apps_fixtures import Repo, tether_cli
from tests.support.customkinds import Widgets
from tests.support.fleet import Member
from tests.support.waiting import wait_for
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.reconcile.apps import Application
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.executions import Execution
from tether.service.runtime import Runtime

pytestmark = [pytest.mark.cluster]
CLUSTERS = ("in-cluster", "east", "west")
# A ConfigMap whose data.state is "broken" is Degraded: a dependency made unhealthy on demand.
RULES = (
    "- group: ''\n  kind: ConfigMap\n  healthy: 'true'\n"
    "  degraded: \"object.?data.?state.orValue('') == 'broken'\"\n"
)


def _conditions(app: Application) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in app.status.get("conditions") or []}


def _infra(state: str) -> dict[str, Any]:
    return m.config_map("infra", {"state": state})


def _operator(name: str, placeable: bool) -> dict[str, Any]:
    """The operator's Deployment; one that cannot be placed on any node never rolls out."""
    deployment = m.deployment(name, 1)
    if not placeable:
        deployment["spec"]["template"]["spec"]["nodeSelector"] = {"tether.test/none": "here"}
    return deployment


async def _create(
    rt: Runtime, name: str, repo: Repo, path: str, dest: str, cluster: str, deps: tuple[str, ...]
) -> None:
    await use.create(
        rt,
        use.CreateOptions(
            name=name,
            repo_url=repo.url,
            path=path,
            dest_cluster=cluster,
            dest_namespace=dest,
            automated=True,
            auto_prune=True,
            sync_options=("CreateNamespace=true",),
            depends_on=deps,
        ),
    )


async def _ready(rt: Runtime, name: str, timeout: float = 90) -> Application:
    return await wait_for(
        lambda: use.get(rt, name),
        lambda a: _conditions(a).get("Ready", {}).get("status") == "True",
        what=f"{name} Ready",
        timeout=timeout,
    )


async def test_infrastructure_first_in_every_cluster(
    rt: Runtime,
    cluster: Cluster,
    kube: KubeClient,
    make_repo: Callable[[], Repo],
    namespace: str,
    registered: list[Member],
    start_controller: StartController,
) -> None:
    """Each cluster's widget app waits for that cluster's infra app (the Widget CRD and an
    operator that cannot roll out yet): it says which dependency and why, and nothing of it is
    applied; once the operator can roll out, infra turns Ready and the widgets follow."""
    widgets = Widgets(kube, f"w{namespace[-5:]}.tether.test")
    repo = make_repo()

    def files(placeable: bool) -> dict[str, Any]:
        return {
            "infra/crd.yaml": m.dump(widgets.crd),
            "infra/operator.yaml": m.dump(_operator("operator", placeable)),
            "widgets/w.yaml": m.dump(widgets.widget("w1")),
        }

    repo.commit("infra cannot roll out yet", files(placeable=False))
    dest = f"{namespace}-d"
    for where in CLUSTERS:
        await _create(rt, f"infra-{where}", repo, "infra", dest, where, ())
        infra = (f"infra-{where}",)
        await _create(rt, f"widgets-{where}", repo, "widgets", dest, where, infra)
    clients = {c: await rt.clusters.client(c) for c in CLUSTERS}  # one per control plane
    try:
        start_controller("--poll-seconds", "1")
        for where in CLUSTERS:
            waiting = await wait_for(
                lambda c=where: use.get(rt, f"widgets-{c}"),
                lambda a: (
                    _conditions(a).get("Reconciling", {}).get("reason") == "DependencyNotReady"
                ),
                what=f"widgets-{where} waiting for its infra",
                timeout=90,
            )
            message = _conditions(waiting)["Reconciling"]["message"]
            assert f"waiting for dependency {namespace}/infra-{where}" in message, message
            [dependency] = waiting.status["dependencies"]
            assert (dependency["name"], dependency["ready"]) == (f"infra-{where}", False)
            assert waiting.operation_state is None, "a held app must not have synced"
            # The CRD is there (infra synced it), yet no widget: the dependent waited.
            found = await clients[where].get_or_none(widgets.api_version, "Widget", "w1", dest)
            assert found is None, f"a widget in {where} before its infra was Ready"
        # A person's sync is refused too (the controller runs it and says why), unless forced.
        refused = tether_cli(cluster, namespace, "sync", "widgets-east", "--timeout", "60")
        assert refused.returncode == 1 and "waiting for dependency" in refused.stderr, refused

        repo.commit("the operator can roll out", files(placeable=True))
        for where in CLUSTERS:
            infra = await _ready(rt, f"infra-{where}", timeout=120)
            widget = await _ready(rt, f"widgets-{where}", timeout=120)
            assert widget.status["dependencies"][0]["ready"] is True
            # Synced after its dependency: its first (and only) operation succeeded.
            assert widget.operation_state is not None
            assert widget.operation_state.phase.value == "Succeeded"
            assert (
                infra.status["history"][0]["deployedAt"]
                <= widget.status["history"][0]["deployedAt"]
            )
            found = await clients[where].get_or_none(widgets.api_version, "Widget", "w1", dest)
            assert found is not None, f"no widget in {where}"
    finally:
        for where in CLUSTERS:
            client = clients[where]
            await client.delete("v1", "Namespace", dest)
            await client.delete(
                "apiextensions.k8s.io/v1", "CustomResourceDefinition", widgets.crd_name
            )


async def test_a_cycle_stops_every_app_in_it_until_it_is_broken(
    rt: Runtime,
    kube: KubeClient,
    make_repo: Callable[[], Repo],
    namespace: str,
    start_controller: StartController,
) -> None:
    repo = make_repo()
    repo.commit(
        "two", {"a/cm.yaml": m.dump(m.config_map("a")), "b/cm.yaml": m.dump(m.config_map("b"))}
    )
    await _create(rt, "a", repo, "a", namespace, "in-cluster", ("b",))
    await _create(rt, "b", repo, "b", namespace, "in-cluster", ("a",))
    start_controller()
    for name, path in (("a", "a -> b -> a"), ("b", "b -> a -> b")):
        stalled = await wait_for(
            lambda n=name: use.get(rt, n),
            lambda app: _conditions(app).get("Stalled", {}).get("status") == "True",
            what=f"{name} stalled by the cycle",
        )
        ready = _conditions(stalled)["Ready"]
        assert ready["reason"] == "DependencyCycle", ready
        expected = " -> ".join(f"{namespace}/{n}" for n in path.split(" -> "))
        assert expected in ready["message"], ready
    await asyncio.sleep(2)  # a moment in which a sync could have happened
    assert await kube.get_or_none("v1", "ConfigMap", "a", namespace) is None
    assert await kube.get_or_none("v1", "ConfigMap", "b", namespace) is None

    b = await use.get(rt, "b")
    await rt.store.patch(b.ref, {"spec": {"dependsOn": None}})  # break the cycle
    await _ready(rt, "b")
    await _ready(rt, "a")
    assert await kube.get_or_none("v1", "ConfigMap", "a", namespace) is not None


async def test_a_degraded_dependency_holds_the_next_sync_until_it_recovers(
    rt: Runtime,
    kube: KubeClient,
    make_repo: Callable[[], Repo],
    namespace: str,
    start_controller: StartController,
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    infra_repo, app_repo = make_repo(), make_repo()
    infra_repo.commit("fine", {"infra/cm.yaml": m.dump(_infra("ok"))})
    app_repo.commit("v1", {"app/cm.yaml": m.dump(m.config_map("app", {"version": "1"}))})
    await _create(rt, "infra", infra_repo, "infra", namespace, "in-cluster", ())
    await _create(rt, "app", app_repo, "app", namespace, "in-cluster", ("infra",))
    start_controller("--health-rules", str(rules))
    await _ready(rt, "app")

    infra_repo.commit(
        "broken", {"infra/cm.yaml": m.dump(m.config_map("infra", {"state": "broken"}))}
    )
    await wait_for(
        lambda: use.get(rt, "infra"),
        lambda a: (a.status.get("health") or {}).get("status") == "Degraded",
        what="infra Degraded",
    )
    app_repo.commit("v2", {"app/cm.yaml": m.dump(m.config_map("app", {"version": "2"}))})
    held = await wait_for(
        lambda: use.get(rt, "app"),
        lambda a: _conditions(a).get("Reconciling", {}).get("reason") == "DependencyNotReady",
        what="app's next sync held",
    )
    assert (
        f"waiting for dependency {namespace}/infra" in _conditions(held)["Reconciling"]["message"]
    )
    live = await kube.get("v1", "ConfigMap", "app", namespace)
    assert live["data"] == {"version": "1"}, "its current state stays as it was"

    # A person may still sync it, knowingly (recorded in the request).
    forced = await ops.sync(
        rt, "app", ops.SyncArgs(ignore_dependencies=True, username="ops"), Execution.CONTROLLER
    )
    state = await ops.run(rt, forced, lambda _e: None, timeout=60)
    assert state.phase.value == "Succeeded", state
    assert state.request.sync.ignore_dependencies
    assert (await kube.get("v1", "ConfigMap", "app", namespace))["data"] == {"version": "2"}

    app_repo.commit("v3", {"app/cm.yaml": m.dump(m.config_map("app", {"version": "3"}))})
    await asyncio.sleep(3)
    assert (await kube.get("v1", "ConfigMap", "app", namespace))["data"] == {"version": "2"}
    infra_repo.commit(
        "recovered", {"infra/cm.yaml": m.dump(m.config_map("infra", {"state": "ok"}))}
    )
    await wait_for(
        lambda: kube.get("v1", "ConfigMap", "app", namespace),
        lambda cm: cm["data"] == {"version": "3"},
        what="the held sync after infra recovered",
        timeout=60,
    )
