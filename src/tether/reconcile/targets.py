"""Targets: what the cluster should hold for one app at pinned revisions.

Resolves each source's revision (or takes the pinned ones of a running operation), reads snapshots,
renders every rendering source (lending `ref` sources' files to Helm value files), then prepares
the manifests for the destination: SOPS-encrypted manifests decrypted, namespaces defaulted by
scope (from discovery, or from CRDs in the same render), duplicates refused, hooks set apart,
tracking ids added.

Decryption comes after rendering (the render cache only ever holds ciphertext) and before
placement (sops' MAC covers the whole document as written in Git, so nothing may touch it first).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tether import render
from tether.cluster import errors as api_errors
from tether.cluster.api import KubeAPI
from tether.engine import hooks, tracking
from tether.engine.conditions import Reason
from tether.engine.sync import options as resource_options
from tether.engine.sync import plans
from tether.engine.tracking import AppRef
from tether.model.app import Source
from tether.model.resources import Body, ResourceKey, group_of
from tether.model.revisions import ResolvedRevision, Snapshot
from tether.model.targets import Targets, primary_index
from tether.secrets import sops

KeySource = Callable[[], Awaitable[sops.AgeKeys]]
"""Reads the age keys when a render holds an encrypted manifest (never before: most have none)."""


class SourceBackend(Protocol):
    async def resolve(self, repo_url: str, target_revision: str) -> ResolvedRevision: ...

    async def snapshot(self, repo_url: str, revision: ResolvedRevision) -> Snapshot: ...


class TargetError(Exception):
    """Why there are no targets: a reason constant, a message, and whether retrying can help."""

    def __init__(self, reason: Reason, message: str, *, stalled: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.stalled = stalled


async def resolve_revisions(
    sources: Sequence[Source], git: SourceBackend, override: str = ""
) -> tuple[ResolvedRevision, ...]:
    primary = primary_index(sources)

    async def one(index: int, source: Source) -> ResolvedRevision:
        wanted = override if override and index == primary else source.target_revision
        return await git.resolve(source.repo_url, wanted)

    try:
        return tuple(await asyncio.gather(*(one(i, s) for i, s in enumerate(sources))))
    except Exception as exc:
        raise TargetError(
            Reason.SOURCE_UNAVAILABLE, f"cannot resolve revision: {exc}", stalled=False
        ) from exc


async def _snapshots(
    sources: Sequence[Source], revisions: Sequence[ResolvedRevision], git: SourceBackend
) -> list[Snapshot]:
    try:
        return list(
            await asyncio.gather(
                *(git.snapshot(s.repo_url, r) for s, r in zip(sources, revisions, strict=True))
            )
        )
    except Exception as exc:
        raise TargetError(
            Reason.SOURCE_UNAVAILABLE, f"cannot read source: {exc}", stalled=False
        ) from exc


async def _render_all(
    sources: Sequence[Source], snapshots: Sequence[Snapshot], context: render.RenderContext
) -> list[Body]:
    refs = {s.ref: snap for s, snap in zip(sources, snapshots, strict=True) if s.ref}
    rendering = [
        (s, snap) for s, snap in zip(sources, snapshots, strict=True) if s in _rendering(sources)
    ]
    try:
        results = await asyncio.gather(
            *(render.render(snap, s, context, refs=refs) for s, snap in rendering)
        )
    except render.RenderError as exc:
        raise TargetError(Reason.RENDER_FAILED, str(exc), stalled=True) from exc
    return [m for result in results for m in result.manifests]


def _rendering(sources: Sequence[Source]) -> list[Source]:
    """Sources that render manifests: all but pure `ref` sources without a path."""
    return [s for s in sources if not (s.ref and s.helm is None and s.path in ("", "."))]


class _Scopes:
    """Whether a kind is namespaced: discovery first, then CRDs rendered alongside."""

    def __init__(self, dest: KubeAPI, manifests: Sequence[Body]) -> None:
        self.dest = dest
        self.unsettled = False  # some object's scope is unknown (its kind is not served yet)
        self.rendered_crds: dict[tuple[str, str], bool] = {
            (c["spec"]["group"], c["spec"]["names"]["kind"]): c["spec"].get("scope") == "Namespaced"
            for c in manifests
            if c.get("kind") == "CustomResourceDefinition" and isinstance(c.get("spec"), dict)
        }

    async def namespaced(self, obj: Body) -> bool | None:
        """True or False; None for a kind nobody serves yet that the object says to take as
        written (SkipDryRunOnMissingResource=true: its CRD comes from elsewhere)."""
        try:
            return (await self.dest.resource(obj["apiVersion"], obj["kind"])).namespaced
        except api_errors.UnknownResource:
            key = (group_of(str(obj["apiVersion"])), str(obj["kind"]))
            if key in self.rendered_crds:
                return self.rendered_crds[key]
            if _options(obj).skip_dry_run_on_missing_resource:
                self.unsettled = True  # placed as written until its kind is served
                return None
            raise TargetError(
                Reason.RENDER_FAILED,
                f"{obj['kind']} ({obj['apiVersion']}) is not served by the destination cluster and "
                "no CustomResourceDefinition for it is part of this app",
                stalled=True,
            ) from None


async def _place(obj: Body, scopes: _Scopes, default_namespace: str) -> Body:
    placed = copy.deepcopy(obj)  # rendered objects are shared with the render cache
    meta = placed.setdefault("metadata", {})
    namespaced = await scopes.namespaced(obj)
    if namespaced is None:
        return placed  # scope unknown until its CRD exists: as written
    if namespaced:
        if not meta.get("namespace"):
            if not default_namespace:
                raise TargetError(
                    Reason.RENDER_FAILED,
                    f"{ResourceKey.of(obj)} is namespaced but sets no namespace and the app has no "
                    "destination.namespace",
                    stalled=True,
                )
            meta["namespace"] = default_namespace
    else:
        meta.pop("namespace", None)
    return placed


async def _decrypt_all(
    manifests: list[Body], keys: KeySource | None, scopes: _Scopes, namespace: str
) -> list[Body]:
    """The manifests with every SOPS-encrypted one decrypted; errors name objects (where they
    will be placed), never values. Placement must wait: sops' MAC covers metadata too."""
    encrypted = [m for m in manifests if sops.is_encrypted(m)]
    if not encrypted:
        return manifests
    names = [str(ResourceKey.of(await _place(m, scopes, namespace))) for m in encrypted]
    try:
        if keys is None:
            raise sops.SecretError("no age keys are configured here")
        age = await keys()
    except sops.SecretError as exc:
        message = f"cannot decrypt {', '.join(names)}: {exc}"
        raise TargetError(Reason.RENDER_FAILED, message, stalled=True) from exc
    plain = iter(
        await asyncio.gather(*(_decrypt(m, age, n) for m, n in zip(encrypted, names, strict=True)))
    )
    return [next(plain) if sops.is_encrypted(m) else m for m in manifests]


async def _decrypt(obj: Body, age: sops.AgeKeys, name: str) -> Body:
    try:
        return await sops.decrypt(obj, age)
    except sops.SecretError as exc:
        reason = str(exc).removeprefix(
            f"{ResourceKey.of(obj)}: "
        )  # sops names it as written in Git; we name it as placed
        raise TargetError(Reason.RENDER_FAILED, f"{name}: {reason}", stalled=True) from exc


def _check_crds(manifests: Sequence[Body]) -> None:
    """A CustomResourceDefinition names the kind it serves: placement and comparison read
    `spec.group` and `spec.names.kind` of every one rendered, so a CRD without them is refused
    here, as a render error, not a crash later."""
    for crd in manifests:
        if crd.get("kind") != "CustomResourceDefinition":
            continue
        spec = crd.get("spec")
        names = spec.get("names") if isinstance(spec, dict) else None
        group = spec.get("group") if isinstance(spec, dict) else None
        kind = names.get("kind") if isinstance(names, dict) else None
        if not (isinstance(group, str) and group and isinstance(kind, str) and kind):
            message = f"{ResourceKey.of(crd)} has no spec.group and spec.names.kind"
            raise TargetError(Reason.RENDER_FAILED, message, stalled=True)


def _options(obj: Body) -> resource_options.ResourceOptions:
    try:
        return resource_options.parse(obj)
    except resource_options.OptionError as exc:
        raise TargetError(Reason.RENDER_FAILED, str(exc), stalled=True) from exc


def _check_annotations(objects: Sequence[Body]) -> None:
    """Every annotation the sync reads, read once now: a typo is a render error the app shows
    at once, not a sync that fails half-way (or an option silently ignored)."""
    for obj in objects:
        try:
            plans.wave_of(obj)
            resource_options.parse(obj)
            if hooks.is_hook(obj):
                hooks.hook_types(obj)
                hooks.delete_policies(obj)
        except (plans.PlanError, resource_options.OptionError) as exc:
            raise TargetError(Reason.RENDER_FAILED, str(exc), stalled=True) from exc
        except hooks.HookError as exc:
            message = f"{ResourceKey.of(obj)}: {exc}"
            raise TargetError(Reason.RENDER_FAILED, message, stalled=True) from exc


def _refuse_duplicates(objects: Sequence[Body]) -> None:
    seen: set[ResourceKey] = set()
    for obj in objects:
        key = ResourceKey.of(obj)
        if key in seen:
            raise TargetError(
                Reason.RENDER_FAILED, f"{key} is rendered more than once", stalled=True
            )
        seen.add(key)


async def destination_facts(dest: KubeAPI) -> tuple[str, tuple[str, ...]]:
    """The destination's Kubernetes version and served API versions (for Helm's capabilities)."""
    version: dict[str, Any] = await dest.server_version()
    index = await dest.resources()
    api_versions = sorted(
        {r.api_version for r in index.resources}
        | {f"{r.api_version}/{r.kind}" for r in index.resources}
    )
    return str(version.get("gitVersion", "")), tuple(api_versions)


@dataclass
class TargetsMemo:
    """The last targets built for one app: an unchanged commit and spec reuse them whole
    (rendering is cached already, but placing and tracking every object is not free)."""

    key: tuple[str, ...] = ()
    targets: Targets | None = None


async def build(
    app: AppRef,
    sources: Sequence[Source],
    revisions: Sequence[ResolvedRevision],
    git: SourceBackend,
    dest: KubeAPI,
    namespace: str,
    memo: TargetsMemo | None = None,
    keys: KeySource | None = None,
) -> Targets:
    key = (*(str(r) for r in revisions), repr(tuple(sources)), namespace, dest.config.server)
    if memo is not None and memo.key == key and memo.targets is not None:
        return memo.targets
    built, settled = await _build(app, sources, revisions, git, dest, namespace, keys)
    if memo is not None:
        # Targets placed while a kind was not served yet are not kept: once its CRD appears,
        # the same commit places the object differently (found by tests/controller).
        memo.key, memo.targets = (key, built) if settled else ((), None)
    return built


async def _build(
    app: AppRef,
    sources: Sequence[Source],
    revisions: Sequence[ResolvedRevision],
    git: SourceBackend,
    dest: KubeAPI,
    namespace: str,
    keys: KeySource | None,
) -> tuple[Targets, bool]:
    """The targets, and whether every object's scope was known (they may be kept)."""
    snapshots = await _snapshots(sources, revisions, git)
    try:
        kube_version, api_versions = await destination_facts(dest)
    except api_errors.ApiError as exc:
        raise TargetError(
            Reason.CLUSTER_UNAVAILABLE, f"destination cluster: {exc}", stalled=False
        ) from exc
    context = render.RenderContext(app.name, namespace, kube_version, api_versions)
    manifests = await _render_all(sources, snapshots, context)
    _check_crds(manifests)
    scopes = _Scopes(dest, manifests)
    manifests = await _decrypt_all(manifests, keys, scopes, namespace)
    placed = [await _place(m, scopes, namespace) for m in manifests]
    _check_annotations(placed)
    hook_objects = [m for m in placed if hooks.is_hook(m)]
    objects = [tracking.with_tracking(m, app) for m in placed if not hooks.is_hook(m)]
    _refuse_duplicates(objects)
    primary = primary_index(sources)
    targets = Targets(
        tuple(sources),
        tuple(revisions),
        snapshots[primary].commit,
        tuple(objects),
        tuple(hook_objects),
    )
    return targets, not scopes.unsettled
