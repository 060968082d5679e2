"""Helm sources: `helm template` of a chart stored in Git, with values from the spec and refs.

The arguments follow Argo CD's repo-server, so charts render as they would there:
`helm template <release> <chart> --namespace <ns> [--kube-version V] [--api-versions A]...
--values <valueFiles...> [--values <inline>] [--set/--set-string ...] --include-crds|--skip-crds`.
Precedence is therefore parameters > valuesObject (which replaces `values` when both are set,
as in Argo CD) > values > valueFiles in order > the chart's values.yaml.

Value files are relative to the chart; `$name/path` reads `path` from the snapshot of the source
whose `ref` is `name` (the multi-source "hybrid repo" layout, values in one repo and the chart in
another). Every value file goes through the sandbox; URLs are refused. The chart directory is
scanned first, because Helm's chart loader follows symlinks. Renders have no network, so a
chart's dependencies must be vendored under `charts/`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tether.model.app import HelmSource
from tether.model.revisions import Snapshot
from tether.render import paths, processes, tools, yamls
from tether.render.errors import (
    InvalidSource,
    MissingDependency,
    NotFound,
    RemoteReference,
    ToolFailed,
)
from tether.render.options import RenderContext, RenderLimits
from tether.render.results import Rendered

_UNESCAPED_COMMA = re.compile(r"(?<!\\),")
_MISSING_DEPENDENCIES = "missing in charts/ directory"


async def render(
    snapshot: Snapshot,
    app: paths.Located,
    spec: HelmSource,
    context: RenderContext,
    refs: Mapping[str, Snapshot],
    workdir: Path,
    limits: RenderLimits,
) -> Rendered:
    argv = await asyncio.to_thread(arguments, snapshot, app, spec, context, refs, workdir, limits)
    origin = f"helm template {app.rel}"
    try:
        output = await processes.run(
            argv,
            cwd=workdir,
            env=tools.environment(workdir),
            max_output=limits.max_output_bytes,
            what=origin,
            scrub=_scrubs(snapshot, refs, app, workdir),
        )
    except ToolFailed as e:
        raise _classified(e, app) from None
    bodies = await asyncio.to_thread(yamls.load_output, output, limits, origin)
    return Rendered(bodies, len(output))


def arguments(
    snapshot: Snapshot,
    app: paths.Located,
    spec: HelmSource,
    context: RenderContext,
    refs: Mapping[str, Snapshot],
    workdir: Path,
    limits: RenderLimits,
) -> list[str]:
    """The complete `helm template` command line, after vetting every file it names."""
    paths.scan(snapshot, app, recursive=True, follow_links=True)
    release = spec.release_name or context.app_name
    if not release:
        raise InvalidSource(f"{app.rel}: a Helm release name (or the app name) is required")
    argv = [tools.executable("helm"), "template", release, str(app.path)]
    if context.namespace:
        argv += ["--namespace", context.namespace]
    if kube_version := spec.kube_version or context.kube_version:
        argv += ["--kube-version", kube_version]
    for api_version in dict.fromkeys((*context.api_versions, *spec.api_versions)):
        argv += ["--api-versions", api_version]
    for raw in spec.value_files:
        argv += ["--values", str(value_file(snapshot, app, raw, refs).path)]
    if inline := inline_values(spec, workdir, limits):
        argv += ["--values", str(inline)]
    for p in spec.parameters:
        argv += ["--set-string" if p.force_string else "--set", f"{p.name}={_set_value(p.value)}"]
    argv.append("--skip-crds" if spec.skip_crds else "--include-crds")
    return argv


def value_file(
    snapshot: Snapshot, app: paths.Located, raw: str, refs: Mapping[str, Snapshot]
) -> paths.Located:
    """Where a `valueFiles` entry lives: in the chart's repository, or `$ref/...` in a ref's."""
    if "://" in raw:
        raise RemoteReference(f"value file {raw!r} is remote; renders only read snapshots")
    if not raw.startswith("$"):
        located = paths.locate(snapshot, raw, base=app.rel, what="value file")
        return paths.require_file(located, snapshot, "value file", raw)
    name, _, rest = raw[1:].partition("/")
    ref = refs.get(name)
    if ref is None:
        raise NotFound(
            f"value file {raw!r} reads from source ref {name!r}, which no source of this "
            f"render provides (known refs: {', '.join(sorted(refs)) or 'none'})"
        )
    located = paths.locate(ref, rest, what=f"value file {raw!r}: path")
    return paths.require_file(located, ref, "value file", raw)


def inline_values(spec: HelmSource, workdir: Path, limits: RenderLimits) -> Path | None:
    """`valuesObject`, else `values`, written as JSON into the render's scratch directory."""
    data: Any
    if spec.values_object is not None:
        data = spec.values_object
    elif spec.values.strip():
        data = yamls.load_data(spec.values, limits, "helm.values")
        if data is not None and not isinstance(data, dict):
            raise InvalidSource("helm.values must be a YAML mapping")
    else:
        return None
    path = workdir / "inline-values.json"
    try:
        path.write_text(json.dumps(data))
    except TypeError as e:
        raise InvalidSource(f"helm.valuesObject is not plain JSON data: {e}") from None
    return path


def _set_value(value: str) -> str:
    # Helm splits --set on commas; a literal comma must be escaped, except in a {a,b} list.
    # Argo CD does the same, so values copied from Argo CD specs mean the same here.
    if value.startswith("{") and value.endswith("}"):
        return value
    return _UNESCAPED_COMMA.sub(r"\\,", value)


def _classified(error: ToolFailed, app: paths.Located) -> ToolFailed:
    if _MISSING_DEPENDENCIES not in error.stderr:
        return error
    missing = error.stderr.split(_MISSING_DEPENDENCIES, 1)[1].strip(" :|")
    return MissingDependency(
        f"chart {app.rel} depends on charts that are not vendored under charts/ ({missing}); "
        "renders have no network: run `helm dependency build` and commit charts/",
        stderr=error.stderr,
    )


def _scrubs(
    snapshot: Snapshot, refs: Mapping[str, Snapshot], app: paths.Located, workdir: Path
) -> tuple[tuple[str, str], ...]:
    roots = [(f"{paths.root_of(s).path}/", "") for s in (snapshot, *refs.values())]
    return ((f"{app.path}/", f"{app.rel}/"), *roots, (str(workdir), "<scratch>"))
