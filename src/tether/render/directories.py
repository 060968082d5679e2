"""Plain directories: every `*.yaml`, `*.yml` and `*.json` file, parsed as Kubernetes objects.

Semantics follow Argo CD's directory sources, because users write these specs for it:
subdirectories only with `recurse`; `include` / `exclude` globs (see globs) match the path
relative to the application directory, exclude first; directory symlinks are not descended
(files behind in-repository file symlinks are read). Files are read in sorted path order so the
output is stable across machines. Unlike Argo CD, a YAML file that is not a Kubernetes object is
an error rather than silently skipped: a typo must not make resources disappear and be pruned.
Jsonnet is not supported yet, so a `.jsonnet` file that would be read is refused, not ignored.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from tether.model.app import DirectorySource
from tether.model.resources import Body
from tether.model.revisions import Snapshot
from tether.render import globs, paths, yamls
from tether.render.errors import InvalidManifest, InvalidSource, OutputTooLarge, TooComplex
from tether.render.options import RenderLimits
from tether.render.results import Rendered

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def render(
    snapshot: Snapshot, app: paths.Located, spec: DirectorySource, limits: RenderLimits
) -> Rendered:
    paths.scan(snapshot, app, recursive=spec.recurse, follow_links=False)
    bodies: list[Body] = []
    budget = limits.max_output_bytes
    for rel in manifest_files(app.path, spec):
        origin = posixpath.normpath(posixpath.join(app.rel, rel))
        text, budget = _read(app.path / rel, origin, budget, limits)
        bodies.extend(_parse(text, origin, limits))
        if len(bodies) > limits.max_documents:
            raise TooComplex(f"{app.rel}: more than {limits.max_documents} documents")
    return Rendered(bodies, limits.max_output_bytes - budget)


def manifest_files(app_dir: Path, spec: DirectorySource) -> list[str]:
    """Paths relative to `app_dir` of the files to read, in Argo CD's walk order."""
    selected = [rel for rel in _walk(app_dir, "", spec.recurse) if _selected(rel, spec)]
    for rel in selected:
        if rel.endswith(".jsonnet"):
            raise InvalidSource(f"{rel}: Jsonnet is not supported yet; exclude it or render it")
    return [rel for rel in selected if rel.endswith(MANIFEST_SUFFIXES)]


def _walk(directory: Path, prefix: str, recurse: bool) -> list[str]:
    # Sorting each directory's names and descending in place gives the order of Go's
    # filepath.Walk, i.e. Argo CD's: "a/x.yaml" comes before "a.yaml".
    found: list[str] = []
    with os.scandir(directory) as entries:
        ordered = sorted(entries, key=lambda e: e.name)
    for entry in ordered:
        rel = f"{prefix}{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            if recurse:
                found.extend(_walk(Path(entry.path), f"{rel}/", recurse))
        elif entry.is_file():  # follows in-repository file symlinks; scan vetted them
            found.append(rel)
    return found


def _selected(rel: str, spec: DirectorySource) -> bool:
    if not rel.endswith((*MANIFEST_SUFFIXES, ".jsonnet")):
        return False
    if spec.exclude and globs.matches(spec.exclude, rel):
        return False
    return not spec.include or globs.matches(spec.include, rel)


def _read(path: Path, origin: str, budget: int, limits: RenderLimits) -> tuple[str, int]:
    size = path.stat().st_size
    if size > budget:
        raise OutputTooLarge(
            f"{origin}: the directory holds more than {limits.max_output_bytes} bytes of manifests"
        )
    try:
        return path.read_bytes().decode("utf-8-sig"), budget - size
    except UnicodeDecodeError as e:
        raise InvalidManifest(f"{origin}: not UTF-8 text (byte {e.start})") from None


def _parse(text: str, origin: str, limits: RenderLimits) -> list[Body]:
    if origin.endswith(".json"):
        return yamls.load_json(text, limits, origin)
    return yamls.load_all(text, limits, origin)
