"""Application use cases: create, inspect, diff, sync, wait, history, roll back, delete."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tether import crds
from tether.cluster import errors as api_errors
from tether.cluster.client import KubeClient
from tether.engine import history as histories
from tether.engine import masking
from tether.engine.operation import (
    InitiatedBy,
    OperationRequest,
    OperationState,
    Selector,
    SyncRequest,
)
from tether.engine.tracking import AppRef
from tether.model.app import IN_CLUSTER, parse_spec
from tether.model.resources import Body, ResourceKey
from tether.model.revisions import CommitInfo, ResolvedRevision, Snapshot
from tether.reconcile.apps import Application
from tether.reconcile.compare import Comparison
from tether.reconcile.engine import Engine
from tether.reconcile.syncing import StepEvent
from tether.reconcile.targets import TargetError
from tether.service.runtime import Runtime

FIELD_MANAGER = "tether-cli"
LOCAL_SHA = "0" * 40


class UseCaseError(Exception):
    """A refusal or failure the caller should show as is (one clear sentence)."""


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
    metadata: dict[str, Any] = {"name": opts.name, "namespace": namespace}
    if opts.labels:
        metadata["labels"] = dict(opts.labels)
    return {
        "apiVersion": crds.API_VERSION,
        "kind": "Application",
        "metadata": metadata,
        "spec": spec,
    }


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


async def create_body(rt: Runtime, body: Body, upsert: bool = False) -> Application:
    """Create the Application `body` (a no-op when it exists with the same spec)."""
    ref = AppRef(rt.settings.namespace, body["metadata"]["name"])
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
        return await rt.engine.compare(app)
    root, path = await asyncio.to_thread(_local_root, local)
    spec = app.spec
    primary = next((s for s in spec.sources if not s.ref or s.helm is not None), spec.sources[0])
    sources = tuple(replace(s, path=path) if s is primary else s for s in spec.sources)
    return await rt.engine.compare(
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


# ---- operations ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SyncArgs:
    prune: bool = False
    dry_run: bool = False
    resources: tuple[str, ...] = ()  # GROUP:KIND:NAME
    revision: str = ""
    username: str = "cli"
    timeout: float = 600.0
    source: dict[str, Any] | None = None


def sync_request(args: SyncArgs) -> OperationRequest:
    try:
        selectors = tuple(Selector.parse(r) for r in args.resources)
    except ValueError as exc:
        raise UseCaseError(str(exc)) from None
    return OperationRequest(
        SyncRequest(
            revision=args.revision,
            prune=args.prune,
            dry_run=args.dry_run,
            resources=selectors,
            source=args.source,
        ),
        InitiatedBy(username=args.username),
    )


async def sync(
    rt: Runtime, name: str, args: SyncArgs, report: Callable[[StepEvent], None]
) -> OperationState:
    app = await get(rt, name)
    try:
        return await rt.engine.sync(app.ref, sync_request(args), report, args.timeout)
    except TimeoutError as exc:
        raise UseCaseError(str(exc)) from None


async def rollback(
    rt: Runtime, name: str, entry_id: int, args: SyncArgs, report: Callable[[StepEvent], None]
) -> OperationState:
    app = await get(rt, name)
    rolled = rollback_args(app, entry_id, args)
    return await rt.engine.sync(app.ref, sync_request(rolled), report, args.timeout)


def rollback_args(app: Application, entry_id: int, args: SyncArgs) -> SyncArgs:
    """The sync that re-deploys history entry `entry_id` (its revision and source)."""
    name = app.ref.name
    if app.spec.sync_policy.automated is not None:
        raise UseCaseError(
            f"application {name} syncs automatically; disable automated sync before rolling back"
        )
    entry = histories.find(app.status.get("history") or [], entry_id)
    if entry is None:
        raise UseCaseError(f"application {name} has no history entry {entry_id}")
    sha = ResolvedRevision.parse(str(entry["revision"])).sha
    source = entry.get("source")
    return SyncArgs(
        prune=args.prune,
        revision=sha,
        username=args.username,
        timeout=args.timeout,
        source=dict(source) if source else None,
    )


@dataclass(frozen=True)
class WaitFor:
    synced: bool = False
    healthy: bool = False
    operation: bool = False

    def met(self, app: Application) -> bool:
        status = app.status
        op = (status.get("operationState") or {}).get("phase")
        return (
            (not self.synced or (status.get("sync") or {}).get("status") == "Synced")
            and (not self.healthy or (status.get("health") or {}).get("status") == "Healthy")
            and (not self.operation or op in (None, "Succeeded", "Failed", "Error"))
            and app.operation is None
        )


async def wait(
    rt: Runtime, name: str, want: WaitFor, timeout: float, refresh: bool = True
) -> Application:
    deadline = asyncio.get_running_loop().time() + timeout
    app = await get(rt, name)
    while True:
        if refresh:
            app = (await rt.engine.refresh(app.ref)).app
        if want.met(app):
            return app
        if asyncio.get_running_loop().time() > deadline:
            status = app.status
            raise UseCaseError(
                f"timed out after {timeout:.0f}s: sync {(status.get('sync') or {}).get('status')}, "
                f"health {(status.get('health') or {}).get('status')}"
            )
        await asyncio.sleep(1.0)
        app = await get(rt, name)


async def delete(
    rt: Runtime, name: str, cascade: bool, report: Callable[[StepEvent], None]
) -> list[ResourceKey]:
    app = await get(rt, name)
    return await rt.engine.delete(app.ref, cascade, report)


def history(app: Application) -> Sequence[dict[str, Any]]:
    return list(app.status.get("history") or [])


# ---- operations requested for the controller (the API server) ------------------------------


class OperationInProgress(UseCaseError):
    """The app already has an operation requested or running; one at a time."""


def busy(app: Application) -> bool:
    state = app.status.get("operationState") or {}
    return app.operation is not None or state.get("phase") in ("Running", "Terminating")


async def _request(rt: Runtime, app: Application, request: OperationRequest) -> OperationRequest:
    if busy(app):
        raise OperationInProgress(f"application {app.ref.name} has an operation in progress")
    await rt.store.request_operation(app.ref, request)
    return request


async def request_sync(rt: Runtime, name: str, args: SyncArgs) -> OperationRequest:
    """Write the sync request into `.operation`; the controller runs it."""
    return await _request(rt, await get(rt, name), sync_request(args))


async def request_rollback(
    rt: Runtime, name: str, entry_id: int, args: SyncArgs
) -> OperationRequest:
    """Write the rollback to history entry `entry_id` into `.operation`; the controller runs it."""
    app = await get(rt, name)
    return await _request(rt, app, sync_request(rollback_args(app, entry_id, args)))


def operation_id(app: Application) -> str:
    return str((app.status.get("operationState") or {}).get("id", ""))


async def wait_operation(
    rt: Runtime, name: str, before: str, timeout: float, interval: float = 0.5
) -> OperationState | None:
    """The first finished operation after the one whose id was `before` (None: still pending or
    running after `timeout` seconds, e.g. because no controller is running)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        app = await get(rt, name)
        state = Engine.operation_state(app)
        if (
            app.operation is None
            and state is not None
            and state.id != before
            and state.phase.completed
        ):
            return state
        if asyncio.get_running_loop().time() > deadline:
            return None
        await asyncio.sleep(interval)


# ---- spec edits ----------------------------------------------------------------------------


def validate_spec(spec: Mapping[str, Any]) -> None:
    """Refuse a spec the engine could not parse, with the parser's reason."""
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
    was read at (a concurrent edit is an api_errors.Conflict)."""
    app = await get(rt, name)
    spec = merge_patch(dict(app.raw_spec), patch)
    validate_spec(spec)
    body = {**app.body, "spec": spec}
    body.pop("status", None)
    return Application(await rt.kube.replace(body))
