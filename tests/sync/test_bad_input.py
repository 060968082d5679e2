"""Bad input applies and prunes nothing, and says clearly why: render errors, empty renders, an
unreachable repository, paths and symlinks that leave the repository, and manifests that are not
objects tether may apply (each reported once, naming its file and document)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import CLUSTER_NAME, Cluster
from tests.support import audit
from tests.support.apps_fixtures import Repo, tether_cli
from tests.support.gitserver import Symlink
from tests.support.waiting import condition
from tests.sync import manifests as m
from tether.cluster.client import KubeClient
from tether.engine import tracking
from tether.engine.operation import OperationPhase
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.runtime import Runtime

pytestmark = pytest.mark.cluster


async def _synced_app(rt: Runtime, repo: Repo, name: str, namespace: str, **kw: object) -> None:
    repo.commit(
        "good",
        {
            "app/cm.yaml": m.dump(m.config_map("keep-me")),
            "app/web.yaml": m.dump(m.deployment("web")),
        },
    )
    await use.create(
        rt,
        use.CreateOptions(name=name, repo_url=repo.url, path="app", dest_namespace=namespace, **kw),
    )  # type: ignore[arg-type]
    assert (
        await ops.sync_to_end(rt, name, ops.SyncArgs(), lambda _: None)
    ).phase is OperationPhase.SUCCEEDED


def _tether_writes(namespace: str, since: str) -> list[audit.Write]:
    return [
        w
        for w in audit.writes(CLUSTER_NAME, namespace, since)
        if not w.dry_run and w.resource not in ("applications",) and w.user == "tether-admin"
    ]


async def _assert_nothing_changed(
    rt: Runtime, kube: KubeClient, namespace: str, name: str, since: str
) -> dict:
    assert _tether_writes(namespace, since) == []
    assert await kube.get_or_none("v1", "ConfigMap", "keep-me", namespace) is not None
    assert await kube.get_or_none("apps/v1", "Deployment", "web", namespace) is not None
    return (await use.get(rt, name)).status


@pytest.mark.parametrize(
    ("case", "files", "reason", "words"),
    [
        (
            "broken-yaml",
            {"app/cm.yaml": "kind: ConfigMap\nmetadata: {name: [unclosed\n"},
            "RenderFailed",
            "cm.yaml",
        ),
        ("not-an-object", {"app/cm.yaml": "just: a map\n"}, "RenderFailed", "cm.yaml"),
        (
            "python-tag",
            {"app/cm.yaml": "!!python/object/apply:os.system ['true']\n"},
            "RenderFailed",
            "cm.yaml",
        ),
        (
            "escaping-symlink",
            {"app/cm.yaml": Symlink("../../../../../../etc/hostname")},
            "RenderFailed",
            "cm.yaml",
        ),
        (
            "crd-without-names",
            {
                "app/crd.yaml": "apiVersion: apiextensions.k8s.io/v1\n"
                "kind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\n"
                "spec: {scope: Namespaced}\n"
            },
            "RenderFailed",
            "has no spec.group and spec.names.kind",
        ),
        (
            "unknown-sync-option",
            {
                "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep-me, "
                "annotations: {tether.dev/sync-options: Prune=flase}}\n"
            },
            "RenderFailed",
            "Prune must be true or false",
        ),
    ],
)
async def test_render_failure_applies_and_prunes_nothing(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    case: str,
    files: dict,
    reason: str,
    words: str,
) -> None:
    repo = make_repo()
    await _synced_app(rt, repo, case, namespace)
    repo.commit("bad", files, remove=("app/web.yaml",))
    since = audit.now_marker()

    state = await ops.sync_to_end(rt, case, ops.SyncArgs(prune=True), lambda _: None)

    assert state.phase in (OperationPhase.FAILED, OperationPhase.ERROR)
    assert words in state.message
    status = await _assert_nothing_changed(rt, kube, namespace, case, since)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == reason and words in ready["message"]
    assert condition({"status": status}, "Stalled") == "True"


_CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n"
_JOB = (
    "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-%s}\n"
    "spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: busybox}]}}}\n"
)
_HOOK = ", annotations: {tether.dev/hook: PreSync}"
_SECRET = "apiVersion: v1\nkind: Secret\nmetadata: %s\nstringData: {password: s3cr3t}\n"

# A manifest tether must not apply, as a file in app/, and the one-line reason it gives.
NOT_OBJECTS = [
    pytest.param(
        f"{_CM}---\n{_JOB % _HOOK}---\n{_JOB % ''}",
        "app/bad.yaml: document 3 (kind Job) sets generateName but no name; "
        "only hooks (tether.dev/hook) may",
        id="generate-name-outside-a-hook",
    ),
    pytest.param(
        "apiVersion: v1\nmetadata: {name: no-kind}\n",
        "app/bad.yaml: document 1 is not a Kubernetes object: missing kind",
        id="no-kind",
    ),
    pytest.param(
        f"{_CM}---\nkind: Secret\nmetadata: {{name: db}}\nstringData: {{password: s3cr3t}}\n",
        "app/bad.yaml: document 2 (kind Secret) is not a Kubernetes object: missing apiVersion",
        id="no-api-version",
    ),
    pytest.param(
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: in-a-list}\n",
        "app/bad.yaml: document 1 is a sequence, not a Kubernetes object",
        id="document-is-a-sequence",
    ),
    pytest.param(
        _SECRET % "[{name: db}]",
        "app/bad.yaml: document 1 (kind Secret) is not a Kubernetes object: "
        "metadata is a sequence, not a mapping",
        id="metadata-is-a-sequence",
    ),
    pytest.param(
        _SECRET % "{name: db, annotations: [token=s3cr3t]}",
        "app/bad.yaml: document 1 (kind Secret) is not a Kubernetes object: "
        "metadata.annotations is a sequence, not a mapping of strings",
        id="annotations-are-a-sequence",
    ),
    pytest.param(
        _SECRET % "{name: db, labels: {app: db, version: 2}}",
        "app/bad.yaml: document 1 (kind Secret) is not a Kubernetes object: "
        'metadata.labels["version"] is a number, not a string',
        id="label-value-is-a-number",
    ),
    pytest.param(
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: fine}}\n- s3cr3t\n",
        "app/bad.yaml: document 1, item 2 is a string, not a Kubernetes object",
        id="list-item-is-not-a-mapping",
    ),
    pytest.param(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n"
        "  password: s3cr3t\n  password: hunter2\n",
        'app/bad.yaml: invalid YAML at line 6, column 3: mapping key "password" already defined '
        "at line 5",
        id="duplicate-key",
    ),
]


async def _owned_by(kube: KubeClient, namespace: str, app: str) -> list[str]:
    """Every object in `namespace` of the kinds these repositories hold that `app` owns."""
    kinds = [("v1", "ConfigMap"), ("v1", "Secret"), ("apps/v1", "Deployment"), ("batch/v1", "Job")]
    ref = tracking.AppRef(namespace, app)
    found = [o for v, k in kinds for o in (await kube.list(v, k, namespace)).items]
    return [o["metadata"]["name"] for o in found if tracking.is_owned_by(o, ref)]


@pytest.mark.parametrize(("text", "message"), NOT_OBJECTS)
async def test_a_manifest_that_is_not_an_object_applies_nothing(
    rt: Runtime,
    make_repo: Callable[[], Repo],
    namespace: str,
    kube: KubeClient,
    cluster: Cluster,
    text: str,
    message: str,
) -> None:
    repo = make_repo()
    await _synced_app(rt, repo, "synced", namespace)
    new = m.dump(m.config_map("new-one"))
    repo.commit("bad", {"app/bad.yaml": text, "app/new.yaml": new}, remove=("app/web.yaml",))
    await use.create(
        rt, use.CreateOptions(name="fresh", repo_url=repo.url, path="app", dest_namespace=namespace)
    )
    since = audit.now_marker()

    for app in ("synced", "fresh"):
        state = await ops.sync_to_end(rt, app, ops.SyncArgs(prune=True), lambda _: None)
        assert state.phase in (OperationPhase.FAILED, OperationPhase.ERROR)
        assert message in state.message
        status = (await use.get(rt, app)).status
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "RenderFailed")
        assert ready["message"] == message  # one line, naming file and document
        assert condition({"status": status}, "Stalled") == "True"
        shown = tether_cli(cluster, namespace, "manifests", app)
        errors = [line for line in shown.stderr.splitlines() if line.startswith("error:")]
        assert shown.returncode != 0 and errors == [f"error: RenderFailed: {message}"], shown.stderr
        assert "Traceback" not in shown.stderr and shown.stdout == ""
        for secret in ("s3cr3t", "hunter2"):
            assert secret not in ready["message"] and secret not in shown.stderr

    await _assert_nothing_changed(rt, kube, namespace, "synced", since)
    assert await kube.get_or_none("v1", "ConfigMap", "new-one", namespace) is None
    assert sorted(await _owned_by(kube, namespace, "synced")) == ["keep-me", "web"]
    assert await _owned_by(kube, namespace, "fresh") == []


async def test_empty_render_is_refused(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    await _synced_app(rt, repo, "empty", namespace)
    repo.commit(
        "oops, everything gone",
        {"app/README.md": "nothing here\n"},
        remove=("app/cm.yaml", "app/web.yaml"),
    )
    since = audit.now_marker()

    state = await ops.sync_to_end(rt, "empty", ops.SyncArgs(prune=True), lambda _: None)

    assert state.phase is OperationPhase.FAILED
    assert "empty" in state.message and "allowEmpty" in state.message
    await _assert_nothing_changed(rt, kube, namespace, "empty", since)


async def test_unreachable_repository_keeps_the_last_good_state(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str, kube: KubeClient
) -> None:
    repo = make_repo()
    await _synced_app(rt, repo, "gone", namespace)
    app = await use.get(rt, "gone")
    await rt.store.patch(
        app.ref, {"spec": {"source": {"repoURL": "git://127.0.0.1:9/nowhere.git"}}}
    )
    since = audit.now_marker()

    refreshed = await rt.orchestrator.refresh(app.ref)
    state = await ops.sync_to_end(rt, "gone", ops.SyncArgs(prune=True), lambda _: None)

    assert refreshed.error is not None and refreshed.error.reason == "SourceUnavailable"
    assert state.phase in (OperationPhase.FAILED, OperationPhase.ERROR)
    assert "127.0.0.1:9" in state.message
    status = await _assert_nothing_changed(rt, kube, namespace, "gone", since)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "SourceUnavailable"
    assert condition({"status": status}, "Stalled") == "False"  # retrying can help: not stalled


async def test_helm_value_file_outside_the_repository_is_refused(
    rt: Runtime, make_repo: Callable[[], Repo], namespace: str
) -> None:
    repo = make_repo()
    repo.commit(
        "chart",
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
            "chart/templates/cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
                "data: {v: {{ .Values.v | quote }}}\n"
            ),
            "chart/values.yaml": "v: x\n",
            "chart/evil.yaml": Symlink("/etc/passwd"),
        },
    )
    for bad in ("../../../../etc/passwd", "/etc/passwd", "evil.yaml"):
        name = f"helm-{abs(hash(bad)) % 10000}"
        await use.create(
            rt,
            use.CreateOptions(
                name=name,
                repo_url=repo.url,
                path="chart",
                dest_namespace=namespace,
                helm_value_files=(bad,),
            ),
        )
        state = await ops.sync_to_end(rt, name, ops.SyncArgs(), lambda _: None)
        assert state.phase in (OperationPhase.FAILED, OperationPhase.ERROR)
        assert any(w in state.message for w in ("outside", "leaves the repository", "escape")), (
            state.message
        )
