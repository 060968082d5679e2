"""The kustomization graph, walked before kustomize runs so the sandbox sees every path it reads.

kustomize follows references on its own: resources, bases and components (files, or
directories holding further kustomizations), patch files, generator inputs, CRD and OpenAPI
files, plugin configs. A render walks that graph first:

- every referenced path goes through `paths.locate`, so `..`, absolute paths and escaping
  symlinks are refused with the kustomization file and field that named them;
- URLs are refused (kustomize would clone remote bases or fetch files over HTTP), and so are
  `helmCharts` (kustomize would run helm and download charts): renders never reach the network;
- the walk yields every kustomization directory the build reads. kustomize only loads files in
  or below a kustomization's own directory, so those directories are all it can see; the build
  scans and copies exactly them.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tether.model.revisions import Snapshot
from tether.render import detection, paths, yamls
from tether.render.errors import InvalidSource, NotFound, RemoteReference
from tether.render.options import RenderLimits

# Fields that name files or kustomization directories, each relative to the kustomization.
_DIRECTORY_OR_FILE = ("resources", "bases", "components")
_PLUGIN_CONFIGS = ("generators", "transformers", "validators")  # paths, or inline YAML
_FILE_LISTS = ("crds", "configurations")
_ENTRIES_WITH_PATH = ("patches", "patchesJson6902", "replacements")
_GENERATORS = ("configMapGenerator", "secretGenerator")
_REFUSED = ("helmCharts", "helmChartInflationGenerator")

_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|git@|git::|ssh:)")
_FILE_SUFFIXES = (".yaml", ".yml", ".json")
_HOST = re.compile(r"^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?$")


@dataclass(frozen=True)
class Graph:
    app: paths.Located
    file_name: str  # the app's kustomization file: kustomization.yaml, .yml or Kustomization
    document: Mapping[str, Any]  # the app's kustomization, parsed
    roots: tuple[str, ...]  # repository-relative kustomization directories, the app's first
    # (path as written, real path) of directories reached through an in-repository symlink
    # that lies outside every root: the build's copy recreates those links.
    aliases: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Reference:
    path: str
    field: str
    may_be_directory: bool


def walk(
    snapshot: Snapshot,
    app: paths.Located,
    limits: RenderLimits,
    spec_patches: Sequence[Mapping[str, Any]] = (),
) -> Graph:
    """Check every path the kustomization at `app` reaches; list the directories it reads."""
    file_name, document = _load(app, limits, "the source path")
    for patch in _entry_paths(spec_patches):
        _check(snapshot, app, _Reference(patch, "the Application's kustomize.patches", False))
    roots, pending = [app.rel], [(app, file_name, document)]
    aliases: dict[str, str] = {}
    while pending:
        here, name, data = pending.pop(0)
        for directory, ref in _referenced_directories(snapshot, here, name, data):
            written = posixpath.normpath(posixpath.join(here.rel, ref.path))
            if written != directory.rel:
                aliases[written] = directory.rel
            if directory.rel not in roots:
                roots.append(directory.rel)
                loaded = _load(directory, limits, f"{ref.field} entry {ref.path!r}")
                pending.append((directory, *loaded))
    return Graph(app, file_name, document, tuple(roots), tuple(aliases.items()))


def _load(
    directory: paths.Located, limits: RenderLimits, named_by: str
) -> tuple[str, Mapping[str, Any]]:
    found = detection.kustomization_file(directory.path)
    if found is None:
        raise NotFound(
            f"{directory.rel} (named by {named_by}) holds no kustomization.yaml, "
            "kustomization.yml or Kustomization"
        )
    origin = f"{directory.rel}/{found.name}"
    document = yamls.load_data(found.read_text(encoding="utf-8-sig"), limits, origin)
    if not isinstance(document, dict):
        raise InvalidSource(f"{origin}: a kustomization must be a mapping")
    for field in _REFUSED:
        if field in document:
            raise InvalidSource(
                f"{origin}: `{field}` is not supported (it downloads charts); "
                "render the chart as a Helm source instead"
            )
    return found.name, document


def _referenced_directories(
    snapshot: Snapshot, here: paths.Located, file_name: str, data: Mapping[str, Any]
) -> Iterator[tuple[paths.Located, _Reference]]:
    for ref in _references(data, f"{here.rel}/{file_name}"):
        located = _check(snapshot, here, ref)
        if located.is_dir():
            if not ref.may_be_directory:
                raise InvalidSource(f"{ref.field}: {ref.path!r} is a directory, not a file")
            yield located, ref


def _check(snapshot: Snapshot, here: paths.Located, ref: _Reference) -> paths.Located:
    if _URL.match(ref.path) or "?ref=" in ref.path:
        raise RemoteReference(
            f"{ref.field}: {ref.path!r} is remote; renders only read the repository snapshot"
        )
    located = paths.locate(snapshot, ref.path, base=here.rel, what=ref.field)
    if located.is_file() or located.is_dir():
        return located
    if _looks_like_host(ref.path):  # github.com/org/repo//path and the like
        raise RemoteReference(
            f"{ref.field}: {ref.path!r} looks like a remote base; renders only read the snapshot"
        )
    raise NotFound(f"{ref.field}: {ref.path!r} does not exist")


def _looks_like_host(path: str) -> bool:
    first, slash, _ = path.partition("/")
    return bool(slash) and bool(_HOST.match(first)) and not first.endswith(_FILE_SUFFIXES)


def _references(data: Mapping[str, Any], origin: str) -> Iterator[_Reference]:
    """Every path a kustomization names, with the field it came from (for messages)."""
    for field in _DIRECTORY_OR_FILE:
        for path in _strings(data.get(field)):
            yield _Reference(path, f"{origin} {field}", True)
    for field in _PLUGIN_CONFIGS:
        for path in _strings(data.get(field)):
            if not _inline_yaml(path):
                yield _Reference(path, f"{origin} {field}", True)
    for path in _strings(data.get("patchesStrategicMerge")):
        if not _inline_yaml(path):
            yield _Reference(path, f"{origin} patchesStrategicMerge", False)
    for field in _FILE_LISTS:
        for path in _strings(data.get(field)):
            yield _Reference(path, f"{origin} {field}", False)
    for field in _ENTRIES_WITH_PATH:
        for path in _entry_paths(data.get(field)):
            yield _Reference(path, f"{origin} {field}", False)
    openapi = data.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        yield _Reference(openapi["path"], f"{origin} openapi", False)
    for field in _GENERATORS:
        for path in _generator_inputs(data.get(field)):
            yield _Reference(path, f"{origin} {field}", False)


def _generator_inputs(generators: Any) -> Iterator[str]:
    for generator in generators if isinstance(generators, list) else ():
        if not isinstance(generator, dict):
            continue
        for entry in _strings(generator.get("files")):
            yield entry.split("=", 1)[1] if "=" in entry else entry  # "[key=]path"
        yield from _strings(generator.get("envs"))
        if isinstance(generator.get("env"), str):
            yield generator["env"]


def _entry_paths(entries: Any) -> Iterator[str]:
    for entry in entries if isinstance(entries, list | tuple) else ():
        if isinstance(entry, Mapping) and isinstance(entry.get("path"), str):
            yield entry["path"]


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _inline_yaml(entry: str) -> bool:
    # kustomize accepts inline YAML or JSON where a path is expected; a path holds no newline,
    # no ": " and does not start with "{".
    return "\n" in entry or ": " in entry or entry.lstrip().startswith("{")
