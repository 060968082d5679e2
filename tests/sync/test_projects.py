"""Projects enforced by the engine against the real control plane: refusals happen before any
write (proved from the API server's audit log), the destination's RBAC has the last word through
impersonation, and sync windows hold syncs back."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from tests.conftest import CLUSTER_NAME, Cluster
from tests.support import audit
from tests.support.apps_fixtures import Repo
from tests.support.waiting import condition
from tests.sync import manifests as m
from tether import crds
from tether.cluster.client import KubeClient
from tether.controller.events import EventRecorder
from tether.controller.metrics import Metrics
from tether.controller.reconciler import ReconcileOptions, Reconciler
from tether.controller.settings import RuntimeConfig
from tether.engine.operation import OperationPhase
from tether.engine.tracking import AppRef
from tether.reconcile.apps import Application, AppStore
from tether.reconcile.orchestrator import Orchestrator
from tether.service import apps as use
from tether.service import operations as ops
from tether.service import projects as projects_use
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


async def _project(rt: Runtime, name: str, **spec: Any) -> None:
    body = {
        "apiVersion": crds.API_VERSION,
        "kind": "Project",
        "metadata": {"name": name, "namespace": rt.settings.namespace},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"cluster": "*", "namespace": "*"}],
            **spec,
        },
    }
    await rt.kube.apply(body, field_manager="test", force=True)


async def _app(
    rt: Runtime, repo: Repo, name: str, namespace: str, project: str, files: dict[str, str]
) -> None:
    """An app written straight to the cluster (as `kubectl apply` would: tether's use cases
    refuse a spec its project does not admit, see below), so that the engine's own refusals
    are what these tests see."""
    repo.commit("app", files)
    opts = use.CreateOptions(
        name=name, repo_url=repo.url, path="app", dest_namespace=namespace, project=project
    )
    await rt.store.apply(use.application_manifest(rt.settings.namespace, opts), "kubectl")


async def test_creating_an_app_its_project_does_not_admit_is_refused_before_it_is_written(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    await _project(rt, "team", sourceRepos=["git://git.example.invalid/team/*"])
    opts = use.CreateOptions(
        name="refused", repo_url=make_repo().url, dest_namespace=namespace, project="team"
    )
    with pytest.raises(use.Refused, match=r"ProjectDenied: .* is not permitted by project team"):
        await use.create(rt, opts)
    assert await rt.store.get_or_none(AppRef(rt.settings.namespace, "refused")) is None
    with pytest.raises(use.Refused, match="project missing does not exist"):
        await use.create(rt, replace(opts, project="missing"))


def _writes(since: str, namespaces: set[str], names: set[str]) -> list[audit.Write]:
    """Every write (dry runs included) since `since` to these namespaces or objects, other than
    the Applications' own status."""
    return [
        w
        for w in audit.writes(CLUSTER_NAME, None, since)
        if (w.namespace in namespaces or w.name in names) and w.resource != "applications"
    ]


def _ready(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


async def _refused(rt: Runtime, name: str, words: str) -> dict[str, Any]:
    """Sync `name`, expect a project refusal naming `words`, return the app's status."""
    state = await ops.sync_to_end(rt, name, ops.SyncArgs(prune=True), lambda _e: None)
    assert state.phase in (OperationPhase.FAILED, OperationPhase.ERROR)
    assert words in state.message, state.message
    status = dict((await use.get(rt, name)).status)
    ready = _ready(status)
    assert ready["status"] == "False" and ready["reason"] == "ProjectDenied", ready
    assert words in ready["message"]
    assert condition({"status": status}, "Stalled") == "True"
    assert words in status["operationState"]["message"]
    return status


async def test_the_default_project_is_created_on_first_use(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    assert await kube.get_or_none(crds.API_VERSION, "Project", "default", namespace) is None
    await _app(
        rt, make_repo(), "plain", namespace, "default", {"app/cm.yaml": m.dump(m.config_map("c"))}
    )

    state = await ops.sync_to_end(rt, "plain", ops.SyncArgs(), lambda _e: None)

    assert state.phase is OperationPhase.SUCCEEDED, state.message
    created = await kube.get(crds.API_VERSION, "Project", "default", namespace)
    assert created["spec"]["sourceRepos"] == ["*"]
    assert created["spec"]["destinations"] == [{"cluster": "*", "namespace": "*"}]
    assert created["spec"]["clusterResourceWhitelist"] == [{"group": "*", "kind": "*"}]


async def test_an_app_the_project_permits_syncs(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    await _project(
        rt,
        "team",
        sourceRepos=[repo.url],
        destinations=[{"cluster": "in-cluster", "namespace": namespace}],
        namespaceResourceWhitelist=[{"group": "", "kind": "ConfigMap"}],
    )
    await _app(rt, repo, "fine", namespace, "team", {"app/cm.yaml": m.dump(m.config_map("c"))})

    state = await ops.sync_to_end(rt, "fine", ops.SyncArgs(), lambda _e: None)

    assert state.phase is OperationPhase.SUCCEEDED, state.message
    assert await kube.get_or_none("v1", "ConfigMap", "c", namespace) is not None


async def test_an_object_outside_the_destinations_is_refused_before_any_write(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    elsewhere = f"{namespace}-x"
    await _project(rt, "team", destinations=[{"cluster": "in-cluster", "namespace": namespace}])
    sneaky = dict(m.config_map("sneaky"), metadata={"name": "sneaky", "namespace": elsewhere})
    files = {"app/cm.yaml": m.dump(m.config_map("mine")), "app/sneaky.yaml": m.dump(sneaky)}
    await _app(rt, make_repo(), "escape", namespace, "team", files)
    since = audit.now_marker()

    status = await _refused(rt, "escape", f"namespace {elsewhere} on cluster in-cluster")

    assert _writes(since, {namespace, elsewhere}, {"mine", "sneaky"}) == []
    assert await kube.get_or_none("v1", "ConfigMap", "mine", namespace) is None
    assert "project team refuses this" in _ready(status)["message"]


async def test_a_cluster_scoped_kind_not_whitelisted_is_refused(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    await _project(rt, "team")
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"{namespace}-reader"},
        "rules": [],
    }
    files = {"app/cm.yaml": m.dump(m.config_map("c")), "app/role.yaml": m.dump(role)}
    await _app(rt, make_repo(), "wide", namespace, "team", files)
    since = audit.now_marker()

    await _refused(rt, "wide", "clusterResourceWhitelist")

    assert _writes(since, {namespace}, {f"{namespace}-reader", "c"}) == []
    role_api = "rbac.authorization.k8s.io/v1"
    assert await kube.get_or_none(role_api, "ClusterRole", f"{namespace}-reader") is None


async def test_a_source_repository_not_permitted_is_refused(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    await _project(rt, "team", sourceRepos=["git://git.example.invalid/team/*"])
    await _app(
        rt, make_repo(), "foreign", namespace, "team", {"app/cm.yaml": m.dump(m.config_map("c"))}
    )
    since = audit.now_marker()

    refreshed = await rt.orchestrator.refresh(AppRef(namespace, "foreign"))
    await _refused(rt, "foreign", "is not permitted by project team (sourceRepos:")

    assert refreshed.error is not None and refreshed.error.reason == "ProjectDenied"
    assert _writes(since, {namespace}, {"c"}) == []


async def test_a_missing_project_is_an_error(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    await _app(
        rt, make_repo(), "orphan", namespace, "nope", {"app/cm.yaml": m.dump(m.config_map("c"))}
    )

    await _refused(rt, "orphan", f"project nope does not exist in namespace {namespace}")


async def _service_account(kube: KubeClient, namespace: str) -> None:
    """A `deployer` that may do anything to ConfigMaps in the namespace, and nothing else."""
    await kube.create(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "deployer", "namespace": namespace},
        }
    )
    rbac = "rbac.authorization.k8s.io/v1"
    await kube.create(
        {
            "apiVersion": rbac,
            "kind": "Role",
            "metadata": {"name": "configmaps-only", "namespace": namespace},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}],
        }
    )
    await kube.create(
        {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": {"name": "deployer", "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "configmaps-only",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": namespace}],
        }
    )


async def test_writes_run_as_the_service_account_and_its_403_is_reported(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    await _service_account(kube, namespace)
    await _project(
        rt,
        "team",
        destinationServiceAccounts=[
            {"cluster": "in-cluster", "namespace": namespace, "defaultServiceAccount": "deployer"}
        ],
    )
    repo = make_repo()
    await _app(rt, repo, "scoped", namespace, "team", {"app/cm.yaml": m.dump(m.config_map("c"))})
    assert (
        await ops.sync_to_end(rt, "scoped", ops.SyncArgs(), lambda _e: None)
    ).phase is OperationPhase.SUCCEEDED
    repo.commit("a secret too", {"app/secret.yaml": m.dump(m.secret("s", {"k": "v"}))})
    since = audit.now_marker()

    state = await ops.sync_to_end(rt, "scoped", ops.SyncArgs(), lambda _e: None)

    who = f'User "system:serviceaccount:{namespace}:deployer"'
    assert state.phase is OperationPhase.FAILED
    assert who in state.message and "secrets" in state.message and "forbidden" in state.message
    status = (await use.get(rt, "scoped")).status
    ready = _ready(dict(status))
    assert ready["status"] == "False" and who in ready["message"], ready
    assert who in status["operationState"]["message"]
    assert await kube.get_or_none("v1", "Secret", "s", namespace) is None
    refused = [w for w in _writes(since, {namespace}, {"s"}) if w.resource == "secrets"]
    assert refused and all(w.code == 403 for w in refused)


async def test_a_deny_window_refuses_manual_syncs_unless_it_allows_them(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    window = {"kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": ["*"]}
    await _project(rt, "team", syncWindows=[window])
    await _app(
        rt, make_repo(), "late", namespace, "team", {"app/cm.yaml": m.dump(m.config_map("c"))}
    )
    since = audit.now_marker()

    state = await ops.sync_to_end(rt, "late", ops.SyncArgs(), lambda _e: None)

    assert state.phase is OperationPhase.ERROR
    assert state.message.startswith('sync refused: deny window "* * * * *" for 1h of project team')
    assert "does not allow manual syncs" in state.message
    # (windows hold syncs, not diffs: the refresh after the refusal may dry-run)
    assert [w for w in _writes(since, {namespace}, {"c"}) if not w.dry_run] == []
    await _project(rt, "team", syncWindows=[{**window, "manualSync": True}])

    state = await ops.sync_to_end(rt, "late", ops.SyncArgs(), lambda _e: None)

    assert state.phase is OperationPhase.SUCCEEDED, state.message
    assert await kube.get_or_none("v1", "ConfigMap", "c", namespace) is not None


async def test_a_deny_window_holds_the_automated_sync_until_it_closes(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    now = dt.datetime.now(dt.UTC)
    closing = {
        "kind": "deny",
        "schedule": f"{now.minute} {now.hour} * * *",
        "duration": "3m",
        "applications": ["*"],
    }
    await _project(rt, "team", syncWindows=[closing])
    repo = make_repo()
    repo.commit("app", {"app/cm.yaml": m.dump(m.config_map("c"))})
    await use.create(
        rt,
        use.CreateOptions(
            name="auto",
            repo_url=repo.url,
            path="app",
            dest_namespace=namespace,
            project="team",
            automated=True,
        ),
    )
    ref = AppRef(namespace, "auto")
    informer = {"body": (await rt.store.get(ref)).body}  # what the controller's informer holds
    store = AppStore(rt.kube, observe=lambda body: informer.update(body=body))
    orchestrator = Orchestrator(store, rt.clusters, rt.repos, rt.projects)
    reconciler = Reconciler(
        orchestrator,
        store,
        lambda _ref: informer["body"],
        lambda _ref: True,
        EventRecorder(rt.kube, "test"),
        Metrics(),
        ReconcileOptions(),
        config=lambda: RuntimeConfig(resync_seconds=600),
    )

    requeue = await reconciler.reconcile(ref)

    assert requeue is not None and 0 < requeue <= 180  # back when the window closes
    assert await kube.get_or_none("v1", "ConfigMap", "c", namespace) is None
    app = await rt.store.get(ref)
    ready = _ready(dict(app.status))
    assert ready["reason"] == "ProjectDenied" and "automated sync held back" in ready["message"]
    assert "syncing is allowed again at" in ready["message"]
    assert condition(app.body, "Stalled") == "False"
    assert Application(app.body).operation is None
    version = app.body["metadata"]["resourceVersion"]

    again = await reconciler.reconcile(ref)  # still held: nothing new to say, nothing written

    assert again is not None and again <= requeue
    assert (await rt.store.get(ref)).body["metadata"]["resourceVersion"] == version


async def test_project_use_cases_create_edit_and_delete(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    opts = projects_use.CreateOptions(
        name="team",
        description="team a",
        source_repos=("git://git.example/team/*",),
        destinations=(projects_use.parse_destination(f"in-cluster,{namespace}"),),
    )
    created = await projects_use.create(rt, opts)
    assert await projects_use.create(rt, opts) == created  # same spec: a no-op
    with pytest.raises(use.UseCaseError, match="exists with a different spec"):
        await projects_use.create(rt, projects_use.CreateOptions(name="team"))

    await projects_use.add_destination(rt, "team", "in-cluster", "!kube-*")
    await projects_use.add_destination(rt, "team", "in-cluster", "!kube-*")  # already there
    edited = await projects_use.add_source(rt, "team", "git://git.example/shared.git")

    assert edited["spec"]["destinations"] == [
        {"cluster": "in-cluster", "namespace": namespace},
        {"cluster": "in-cluster", "namespace": "!kube-*"},
    ]
    assert edited["spec"]["sourceRepos"] == [
        "git://git.example/team/*",
        "git://git.example/shared.git",
    ]
    assert [p["metadata"]["name"] for p in await projects_use.list_projects(rt)] == ["team"]
    await _app(
        rt, make_repo(), "user", namespace, "team", {"app/cm.yaml": m.dump(m.config_map("c"))}
    )
    with pytest.raises(use.UseCaseError, match=r"project team is used by 1 application\(s\): user"):
        await projects_use.delete(rt, "team")
    await use.delete(rt, "user", cascade=False, report=lambda _e: None)
    await projects_use.delete(rt, "team")
    with pytest.raises(use.UseCaseError, match="project team not found"):
        await projects_use.get(rt, "team")
    with pytest.raises(use.UseCaseError, match="destination must be CLUSTER,NAMESPACE"):
        projects_use.parse_destination("just-a-cluster")


def test_the_proj_command(cluster: Cluster, namespace: str, tether_installed: None) -> None:
    """The CLI end to end, in few invocations (each costs seconds of start-up on CI machines)."""

    def proj(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "tether", "proj", "--kubeconfig", str(cluster.kubeconfig)]
        return subprocess.run(
            [*argv, "-N", namespace, *args],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
            timeout=120,
        )

    made = proj(
        "create", "team", "--description", "Team A", "-s", "git://g/*", "-d", "in-cluster,t-*"
    )
    added = proj("add-destination", "team", "in-cluster", "!t-secret")
    shown = proj("get", "team")
    listed, missing = proj("list", "--output", "yaml"), proj("get", "nope")

    assert made.returncode == 0 and added.returncode == 0, made.stderr + added.stderr
    assert "Team A" in shown.stdout and "in-cluster,t-*; in-cluster,!t-secret" in shown.stdout
    assert "sourceRepos:\n    - git://g/*" in listed.stdout
    assert missing.returncode == 1 and "error: project nope not found" in missing.stderr
