"""Application use cases: create, inspect, diff, edit and delete (operations: `operations`).

Every entry point (CLI, API, UI) goes through these functions, so an Application created,
edited or deleted from any of them is checked, admitted and cleaned up the same way; the entry
points add only who may do it (RBAC) and how the answer is shown.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tether import crds
from tether.cluster import errors as api_errors
from tether.cluster.api import KubeAPI
from tether.cluster.client import KubeClient
from tether.engine import dependencies, masking
from tether.engine.comparisons import Comparison
from tether.engine.tracking import AppRef
from tether.model.app import IN_CLUSTER, parse_spec
from tether.model.resources import Body, ResourceKey
from tether.model.revisions import CommitInfo, ResolvedRevision, Snapshot
from tether.reconcile.apps import FINALIZER, Application
from tether.reconcile.events import Report, ignore
from tether.reconcile.targets import TargetError
from tether.service import executions
from tether.service.runtime import Runtime

FIELD_MANAGER = "tether-cli"
LOCAL_SHA = "0" * 40


class UseCaseError(Exception):
    """A refusal or failure the caller should show as is (one clear sentence)."""


class Refused(UseCaseError):
    """The Application's project does not admit it, or its spec cannot be parsed."""

    @classmethod
    def of(cls, error: TargetError) -> Refused:
        return cls(f"{error.reason}: {error.message}")


@dataclass(frozen=True, kw_only=True)
class CreateOptions:
    name: str
    repo_url: str
    path: str = "."
    revision: str = "HEAD"
    dest_cluster: str = IN_CLUSTER
    dest_namespace: str = ""
    project: str = "default"
    automated: bool = False
    self_heal: bool = False
    auto_prune: bool = False
    allow_empty: bool = False
    sync_options: tuple[str, ...] = ()
    helm_value_files: tuple[str, ...] = ()
    helm_parameters: tuple[str, ...] = ()  # "name=value"
    release_name: str = ""
    kustomize_images: tuple[str, ...] = ()
    directory_recurse: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()  # "name" or "namespace/name" of Applications deployed first
    upsert: bool = False


def _source(opts: CreateOptions) -> dict[str, Any]:
    source: dict[str, Any] = {
        "repoURL": opts.repo_url,
        "path": opts.path,
        "targetRevision": opts.revision,
    }
    if opts.helm_value_files or opts.helm_parameters or opts.release_name:
        helm: dict[str, Any] = {}
        if opts.helm_value_files:
            helm["valueFiles"] = list(opts.helm_value_files)
        if opts.helm_parameters:
            helm["parameters"] = [
                {"name": k, "value": v}
                for k, _, v in (p.partition("=") for p in opts.helm_parameters)
            ]
        if opts.release_name:
            helm["releaseName"] = opts.release_name
        source["helm"] = helm
    if opts.kustomize_images:
        source["kustomize"] = {"images": list(opts.kustomize_images)}
    if opts.directory_recurse:
        source["directory"] = {"recurse": True}
    return source


def application_manifest(namespace: str, opts: CreateOptions) -> Body:
    spec: dict[str, Any] = {
        "project": opts.project,
        "source": _source(opts),
        "destination": {"cluster": opts.dest_cluster, "namespace": opts.dest_namespace},
    }
    policy: dict[str, Any] = {}
    if opts.automated:
        policy["automated"] = {
            "prune": opts.auto_prune,
            "selfHeal": opts.self_heal,
            "allowEmpty": opts.allow_empty,
        }
    if opts.sync_options:
        policy["syncOptions"] = list(opts.sync_options)
    if policy:
        spec["syncPolicy"] = policy
    if opts.depends_on:
        spec["dependsOn"] = [_dependency(d) for d in opts.depends_on]
    metadata: dict[str, Any] = {"name": opts.name, "namespace": namespace}
    if opts.labels:
        metadata["labels"] = dict(opts.labels)
    return {
        "apiVersion": crds.API_VERSION,
        "kind": "Application",
        "metadata": metadata,
        "spec": spec,
    }


def _dependency(text: str) -> dict[str, str]:
    namespace, _, name = text.rpartition("/")
    return {"name": name, "namespace": namespace} if namespace else {"name": name}


async def install(kube: KubeClient, namespace: str, timeout: float = 60.0) -> list[str]:
    """Install tether's CRDs (waiting until Established) and its namespace; idempotent."""
    names = []
    for crd in crds.load_all():
        await kube.apply(crd, field_manager=FIELD_MANAGER, force=True)
        names.append(crd["metadata"]["name"])
    await kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        field_manager=FIELD_MANAGER,
    )
    deadline = asyncio.get_running_loop().time() + timeout
    for name in names:
        while not _established(
            await kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        ):
            if asyncio.get_running_loop().time() > deadline:
                raise UseCaseError(f"CRD {name} is not Established after {timeout:.0f}s")
            await asyncio.sleep(0.2)
    await kube.resources(refresh=True)
    return names


def _established(crd: Body) -> bool:
    conds = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conds)


async def create(rt: Runtime, opts: CreateOptions) -> Application:
    return await create_body(rt, application_manifest(rt.settings.namespace, opts), opts.upsert)


async def admit(rt: Runtime, spec: Mapping[str, Any]) -> None:
    """Refuse a spec that does not parse, or that its project does not admit (its sources,
    destination and identity), before it is written."""
    validate_spec(spec)
    try:
        await rt.projects.admit(parse_spec(spec))
    except TargetError as exc:
        raise Refused.of(exc) from None


async def create_body(rt: Runtime, body: Body, upsert: bool = False) -> Application:
    """Create the Application `body` (a no-op when it exists with the same spec)."""
    ref = AppRef(rt.settings.namespace, body["metadata"]["name"])
    await admit(rt, body.get("spec") or {})
    try:
        existing = await rt.store.get_or_none(ref)
    except api_errors.UnknownResource:
        raise UseCaseError(
            "tether's CRDs are not installed in this cluster; run `tether install`"
        ) from None
    if existing is not None and not upsert:
        if (
            existing.raw_spec
            == (await rt.kube.apply(body, field_manager=FIELD_MANAGER, dry_run=True, force=True))[
                "spec"
            ]
        ):
            return existing  # same spec: creating again is a no-op
        raise UseCaseError(
            f"application {ref.name} exists with a different spec; use --upsert to replace it"
        )
    return await rt.store.apply(body, FIELD_MANAGER)


async def get(rt: Runtime, name: str) -> Application:
    app = await rt.store.get_or_none(AppRef(rt.settings.namespace, name))
    if app is None:
        raise UseCaseError(f"application {name} not found in namespace {rt.settings.namespace}")
    return app


async def find(rt: Runtime, name: str) -> Application | None:
    """The app in tether's namespace, or None."""
    return await rt.store.get_or_none(AppRef(rt.settings.namespace, name))


async def list_apps(rt: Runtime) -> list[Application]:
    return await rt.store.list(rt.settings.namespace)


async def destination(rt: Runtime, app: Application) -> KubeAPI:
    """The client of the app's destination cluster (for reads: trees, Events)."""
    try:
        return await rt.orchestrator.destination(app.spec)
    except TargetError as exc:
        raise UseCaseError(exc.message) from None


async def refresh(rt: Runtime, name: str) -> Application:
    """The app compared with Git and the cluster now, its status written if it changed."""
    app = await get(rt, name)
    return (await rt.orchestrator.refresh(app.ref, app)).app


# ---- local sources -------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalOverride:
    """A SourceBackend that serves one repository from a local directory (for --local)."""

    inner: Any
    repo_url: str
    root: Path

    async def resolve(self, repo_url: str, target_revision: str) -> ResolvedRevision:
        if repo_url == self.repo_url:
            return ResolvedRevision("local", LOCAL_SHA)
        return await self.inner.resolve(repo_url, target_revision)  # type: ignore[no-any-return]

    async def snapshot(self, repo_url: str, revision: ResolvedRevision) -> Snapshot:
        if repo_url == self.repo_url:
            commit = CommitInfo(LOCAL_SHA, "local", f"local directory {self.root}", "")
            return Snapshot(repo_url, revision, self.root, commit)
        return await self.inner.snapshot(repo_url, revision)  # type: ignore[no-any-return]


def _local_root(directory: Path) -> tuple[Path, str]:
    """(repository root, app path inside it) for a directory in a local checkout."""
    if not directory.is_dir():
        raise UseCaseError(f"--local {directory} is not a directory")
    directory = directory.resolve()
    found = subprocess.run(
        ["git", "-C", str(directory), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
    )
    if found.returncode == 0:
        root = Path(found.stdout.strip())
        return root, directory.relative_to(root).as_posix() or "."
    return directory, "."


async def compare(rt: Runtime, app: Application, local: Path | None = None) -> Comparison:
    if local is None:
        return await rt.orchestrator.compare(app)
    root, path = await asyncio.to_thread(_local_root, local)
    spec = app.spec
    primary = next((s for s in spec.sources if not s.ref or s.helm is not None), spec.sources[0])
    sources = tuple(replace(s, path=path) if s is primary else s for s in spec.sources)
    return await rt.orchestrator.compare(
        app, sources=sources, git=LocalOverride(rt.repos, primary.repo_url, root)
    )


async def compare_named(rt: Runtime, name: str, local: Path | None = None) -> Comparison:
    """Compare the named app; a source, render or dry-run failure is a UseCaseError."""
    app = await get(rt, name)
    try:
        return await compare(rt, app, local)
    except TargetError as exc:
        raise UseCaseError(f"{exc.reason}: {exc.message}") from None


def masked_manifests(comparison: Comparison) -> list[Body]:
    return [masking.mask(o) for o in (*comparison.targets.objects, *comparison.targets.hooks)]


# ---- spec edits ----------------------------------------------------------------------------


def validate_spec(spec: Mapping[str, Any]) -> None:
    """Refuse a spec tether could not parse, with the parser's reason."""
    try:
        parse_spec(spec)
    except Exception as exc:  # arbitrary client JSON: any parse failure is the client's error
        raise UseCaseError(f"invalid spec: {exc}") from None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, `null` removes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    merged = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


async def update_spec(rt: Runtime, name: str, patch: Mapping[str, Any]) -> Application:
    """Merge `patch` into the app's spec and write it back, guarded by the resourceVersion it
    was read at (a concurrent edit is an api_errors.Conflict); admitted as a create is."""
    app = await get(rt, name)
    spec = merge_patch(dict(app.raw_spec), patch)
    await admit(rt, spec)
    body = {**app.body, "spec": spec}
    body.pop("status", None)
    return Application(await rt.kube.replace(body))


# ---- deletion ------------------------------------------------------------------------------


async def delete(
    rt: Runtime,
    name: str,
    cascade: bool,
    where: executions.Execution = executions.Execution.HERE_IF_NO_CONTROLLER,
    report: Report = ignore,
) -> Deleted:
    """Delete the app. With `cascade`, the objects it deployed go first: the resources
    finalizer makes whoever runs the app (its controller) delete them before the app is gone;
    with no controller responsible, and `where` allowing it, this process does that at once."""
    app = await get(rt, name)
    finalizers = [f for f in app.metadata.get("finalizers") or [] if f != FINALIZER]
    wanted = [*finalizers, FINALIZER] if cascade else finalizers
    if wanted != list(app.metadata.get("finalizers") or []):
        patch = {"metadata": {"finalizers": wanted}}
        app = await rt.store.patch(app.ref, patch, app.resource_version)
    await rt.store.delete(app.ref)
    if not cascade or not await executions.runs_here(rt, app, where):
        return Deleted(cascade_by_controller=cascade)
    deleting = await rt.store.get_or_none(app.ref)
    if deleting is None:
        return Deleted()
    return Deleted(await rt.orchestrator.finish_deletion(deleting, report))


@dataclass(frozen=True)
class Deleted:
    objects: list[ResourceKey] = field(default_factory=list)  # deleted by this process
    cascade_by_controller: bool = False  # the app's controller deletes what it deployed


# ---- dependencies --------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    ref: AppRef
    app: Application | None  # None: a dependency that does not exist
    ready: bool
    message: str = ""  # why it is not Ready


@dataclass(frozen=True)
class Graph:
    """An app's dependencies (transitively) and the apps that depend on it (transitively, among
    the apps of tether's namespace). `edges` go from an app to what it depends on."""

    root: AppRef
    nodes: dict[AppRef, Node]
    edges: tuple[tuple[AppRef, AppRef], ...]

    def dependencies(self, ref: AppRef) -> list[AppRef]:
        return sorted(b for a, b in self.edges if a == ref)

    def dependents(self, ref: AppRef) -> list[AppRef]:
        return sorted(a for a, b in self.edges if b == ref)


async def graph(rt: Runtime, name: str) -> Graph:
    root = await get(rt, name)
    known = {a.ref: a for a in await list_apps(rt)}
    edges: set[tuple[AppRef, AppRef]] = set()
    nodes: dict[AppRef, Node] = {}

    async def node(ref: AppRef) -> Node:
        if ref not in nodes:
            app = known.get(ref) or await rt.store.get_or_none(ref)
            ready, why = dependencies.readiness(app.body if app else None)
            nodes[ref] = Node(ref, app, ready, why)
        return nodes[ref]

    todo = [root.ref]
    while todo and len(nodes) < dependencies.MAX_NODES:  # what the root depends on
        current = await node(todo.pop())
        for dep in dependencies.edges(current.ref, current.app.body if current.app else None):
            if (current.ref, dep) not in edges:
                edges.add((current.ref, dep))
                todo.append(dep)
    reverse: dict[AppRef, list[AppRef]] = {}
    for ref, app in known.items():
        for dep in dependencies.edges(ref, app.body):
            reverse.setdefault(dep, []).append(ref)
    todo = [root.ref]
    while todo and len(nodes) < dependencies.MAX_NODES:  # what depends on the root
        target = todo.pop()
        for dependent in reverse.get(target, []):
            if (dependent, target) not in edges:
                edges.add((dependent, target))
                await node(dependent)
                todo.append(dependent)
    await node(root.ref)
    return Graph(root.ref, nodes, tuple(sorted(edges)))
