"""Targets: what the cluster should hold for one app at pinned revisions, as plain data.

Built by the reconcile layer (fetch, render, decrypt, place, track) and read by the pure core
(comparison, sync plan), so it lives here, with no way to reach Git or a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tether.model.app import Source
from tether.model.resources import Body, ResourceKey
from tether.model.revisions import CommitInfo, ResolvedRevision


@dataclass(frozen=True)
class Targets:
    sources: tuple[Source, ...]
    revisions: tuple[ResolvedRevision, ...]  # one per source, same order
    commit: CommitInfo  # of the first rendering source
    objects: tuple[Body, ...]
    hooks: tuple[Body, ...]

    @property
    def revision(self) -> ResolvedRevision:
        return self.revisions[primary_index(self.sources)]

    def keys(self) -> set[ResourceKey]:
        return {ResourceKey.of(o) for o in self.objects}


def primary_index(sources: Sequence[Source]) -> int:
    """The source whose revision names the app's: the first that renders (not a pure `ref`)."""
    return next((i for i, s in enumerate(sources) if s.ref == "" or s.helm is not None), 0)
