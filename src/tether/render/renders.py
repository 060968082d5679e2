"""The render boundary's entry point: a snapshot and a source spec in, Kubernetes objects out.

One render reads like a pipeline: look the result up in the cache (no disk access); resolve the
source path inside the snapshot; decide the source type; render in a private temporary
directory under one deadline (plain files parsed here, kustomize or helm run as bounded
subprocesses); store the result. Every failure is a RenderError naming the path at fault.
Rendered bodies are returned exactly as the files or tools produced them: namespaces, tracking
labels and other defaults are the reconcile pipeline's business, because they need discovery data.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from tether.model.app import DirectorySource, HelmSource, KustomizeSource, Source, SourceType
from tether.model.revisions import Snapshot
from tether.render import caches, detection, directories, helm, kustomize, paths
from tether.render.errors import RenderTimeout, TooComplex
from tether.render.options import RenderContext, RenderLimits
from tether.render.results import Rendered, RenderResult

_NO_REFS: Mapping[str, Snapshot] = MappingProxyType({})


async def render(
    snapshot: Snapshot,
    source: Source,
    context: RenderContext,
    *,
    refs: Mapping[str, Snapshot] = _NO_REFS,
    limits: RenderLimits = RenderLimits(),
) -> RenderResult:
    """Render `source` from `snapshot`; `refs` maps source ref names to their snapshots."""
    key = caches.key_of(snapshot, source, context, refs, limits)
    if (hit := caches.CACHE.get(key)) is not None:
        return hit
    rendered, source_type = await _within_deadline(snapshot, source, context, refs, limits)
    manifests = tuple(rendered.manifests)
    caches.CACHE.put(key, RenderResult(manifests, source_type, cache_hit=True), rendered.size)
    return RenderResult(manifests, source_type, cache_hit=False)


def clear_cache() -> None:
    """Forget every cached render (a "hard refresh"): the next renders run the tools again."""
    caches.CACHE.clear()


def detect(snapshot: Snapshot, source: Source) -> SourceType:
    """The type `render` would use for `source`: explicit settings, else the files decide."""
    return detection.detect(_app_dir(snapshot, source).path, source)


async def _within_deadline(
    snapshot: Snapshot,
    source: Source,
    context: RenderContext,
    refs: Mapping[str, Snapshot],
    limits: RenderLimits,
) -> tuple[Rendered, SourceType]:
    deadline = asyncio.timeout(limits.timeout_seconds)
    try:
        async with deadline:
            return await _render(snapshot, source, context, refs, limits)
    except TimeoutError:
        if not deadline.expired():
            raise
        raise RenderTimeout(
            f"rendering {source.path!r} took longer than {limits.timeout_seconds:g}s "
            "and was stopped"
        ) from None


async def _render(
    snapshot: Snapshot,
    source: Source,
    context: RenderContext,
    refs: Mapping[str, Snapshot],
    limits: RenderLimits,
) -> tuple[Rendered, SourceType]:
    app = _app_dir(snapshot, source)
    source_type = detection.detect(app.path, source)
    with tempfile.TemporaryDirectory(prefix="tether-render-", ignore_cleanup_errors=True) as tmp:
        workdir = Path(tmp)
        if source_type is SourceType.HELM:
            spec = source.helm or HelmSource()
            rendered = await helm.render(snapshot, app, spec, context, refs, workdir, limits)
        elif source_type is SourceType.KUSTOMIZE:
            k_spec = source.kustomize or KustomizeSource()
            rendered = await kustomize.render(snapshot, app, k_spec, workdir, limits)
        else:
            d_spec = source.directory or DirectorySource()
            rendered = await asyncio.to_thread(directories.render, snapshot, app, d_spec, limits)
    if len(rendered.manifests) > limits.max_documents:
        raise TooComplex(f"{app.rel}: more than {limits.max_documents} documents")
    return rendered, source_type


def _app_dir(snapshot: Snapshot, source: Source) -> paths.Located:
    path = source.path or "."
    located = paths.locate(snapshot, path, what="source path")
    return paths.require_dir(located, snapshot, "source path", path)
