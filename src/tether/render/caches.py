"""The render cache: an unchanged commit renders once, and every later reconcile costs a lookup.

A render is a pure function of the files at one commit and the render settings, so results are
keyed by what determines them: repository URL, commit SHA, source path, the source's render
options, the destination context, the limits, and the repository and SHA of every ref snapshot
the source reads (`$ref/...` value files). Building the key touches no disk, so a hit costs a
few microseconds. The cache is an LRU bounded both by entries and by the bytes of YAML the
cached results came from, because one result may be tens of megabytes.

A hit returns the very same RenderResult (and manifests tuple) every time; callers must not
mutate the bodies. `clear` is the "hard refresh": the next render of every source runs again.
"""

from __future__ import annotations

import posixpath
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from tether.model.app import Source
from tether.model.revisions import Snapshot
from tether.render.options import MiB, RenderContext, RenderLimits
from tether.render.results import RenderResult


@dataclass(frozen=True)
class Key:
    repo_url: str
    commit: str
    path: str
    options: str  # repr of the source's directory/kustomize/helm settings
    context: RenderContext
    limits: RenderLimits
    refs: tuple[tuple[str, str, str], ...]  # (ref name, repo URL, commit) of refs read


def key_of(
    snapshot: Snapshot,
    source: Source,
    context: RenderContext,
    refs: Mapping[str, Snapshot],
    limits: RenderLimits,
) -> Key:
    # repr is exact for these frozen dataclasses of str/bool/tuple/dict: equal specs give equal
    # text; two specs that differ only in dict order merely miss, they never collide.
    options = repr((source.directory, source.kustomize, source.helm))
    return Key(
        source.repo_url,
        snapshot.revision.sha,
        posixpath.normpath(source.path or "."),
        options,
        context,
        limits,
        _refs_read(source, refs),
    )


def _refs_read(source: Source, refs: Mapping[str, Snapshot]) -> tuple[tuple[str, str, str], ...]:
    if source.helm is None:
        return ()
    names = sorted({f[1:].split("/", 1)[0] for f in source.helm.value_files if f.startswith("$")})
    found = [(name, refs.get(name)) for name in names]
    return tuple((n, r.repo_url, r.revision.sha) if r else (n, "", "") for n, r in found)


class RenderCache:
    """An LRU of render results bounded by entry count and by the bytes they were parsed from."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 512 * MiB) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Key, tuple[RenderResult, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: Key) -> RenderResult | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: Key, result: RenderResult, size: int) -> None:
        if size > self.max_bytes:
            return  # one huge result must not flush everything else
        if (old := self._entries.pop(key, None)) is not None:
            self._bytes -= old[1]
        self._entries[key] = (result, size)
        self._bytes += size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._bytes -= evicted

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


CACHE = RenderCache()
