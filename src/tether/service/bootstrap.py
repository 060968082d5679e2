"""Bootstrap: install tether's CRDs and namespace, then hand the cluster over to Git.

After the CRDs and the namespace (the same `install` as `tether install`), everything else is
one root Application (app-of-apps) that syncs a directory of one repository, recursively, with
automated sync, prune and self-heal. That directory holds:

- `tether/`: tether's own configuration (the ConfigMap `tether-config`, which the controller
  watches) and, when tether runs in the cluster, its install manifests;
- child Application manifests, one per app, each pointing at the app's own path.

The root app's objects land in tether's namespace (its destination), so the child Applications
are picked up by the controller like any other. The root has no deletion finalizer: deleting it
never cascades to the cluster it built. Rebuilding a lost cluster is the same command again.

Bootstrap is idempotent: a second run with the same arguments writes nothing and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from tether import crds
from tether.cluster.client import KubeClient
from tether.engine.tracking import AppRef
from tether.model.resources import Body
from tether.service import apps
from tether.service.runtime import Runtime

ROOT_APP = "root"
FIELD_MANAGER = "tether-bootstrap"
LABELS = {"app.kubernetes.io/part-of": "tether", "tether.dev/bootstrap": "root"}


@dataclass(frozen=True, kw_only=True)
class BootstrapOptions:
    repo_url: str
    path: str
    branch: str = "HEAD"
    name: str = ROOT_APP
    project: str = "default"


@dataclass(frozen=True)
class BootstrapResult:
    crds: tuple[str, ...]
    namespace: str
    root: str
    installed: bool  # the CRDs or the namespace were created or changed
    root_action: str  # created | configured | unchanged

    @property
    def changed(self) -> bool:
        return self.installed or self.root_action != "unchanged"


def root_manifest(namespace: str, opts: BootstrapOptions) -> Body:
    """The root Application: everything under `opts.path`, kept exactly as Git says."""
    return apps.application_manifest(
        namespace,
        apps.CreateOptions(
            name=opts.name,
            repo_url=opts.repo_url,
            path=opts.path.strip("/") or ".",
            revision=opts.branch,
            dest_namespace=namespace,
            project=opts.project,
            automated=True,
            self_heal=True,
            auto_prune=True,
            directory_recurse=True,
            labels=LABELS,
        ),
    )


async def bootstrap(rt: Runtime, opts: BootstrapOptions) -> BootstrapResult:
    namespace = rt.settings.namespace
    before = await _install_versions(rt.kube, namespace)
    names = await apps.install(rt.kube, namespace)
    installed = before != await _install_versions(rt.kube, namespace)
    action = await _apply_root(rt, root_manifest(namespace, opts))
    return BootstrapResult(tuple(names), namespace, opts.name, installed, action)


async def _install_versions(kube: KubeClient, namespace: str) -> dict[str, str | None]:
    """resourceVersions of what `install` writes: a server-side apply that changes nothing
    leaves them as they were, which is how a second run knows it changed nothing."""
    versions: dict[str, str | None] = {}
    for crd in crds.load_all():
        name = crd["metadata"]["name"]
        live = await kube.get_or_none("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        versions[name] = _version(live)
    versions["namespace"] = _version(await kube.get_or_none("v1", "Namespace", namespace))
    return versions


def _version(obj: Body | None) -> str | None:
    return None if obj is None else str(obj["metadata"].get("resourceVersion"))


async def _apply_root(rt: Runtime, body: Body) -> str:
    ref = AppRef(body["metadata"]["namespace"], body["metadata"]["name"])
    existing = await rt.store.get_or_none(ref)
    if existing is not None and _same(existing.body, await _dry_run(rt.kube, body)):
        return "unchanged"
    await rt.store.apply(body, FIELD_MANAGER)
    return "configured" if existing is not None else "created"


async def _dry_run(kube: KubeClient, body: Body) -> Body:
    return await kube.apply(body, field_manager=FIELD_MANAGER, force=True, dry_run=True)


def _same(live: Body, predicted: Body) -> bool:
    """Whether applying would change what bootstrap owns: the spec and its labels."""
    labels = (live["metadata"].get("labels") or {}).items()
    return live.get("spec") == predicted.get("spec") and set(LABELS.items()) <= set(labels)
