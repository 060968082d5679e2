"""The outcome of one render: the manifests, how they were produced, and whether it was cached.

`manifests` is a tuple shared with the render cache: a cache hit returns the very same tuple and
dicts, so callers must treat the bodies as read-only and copy before changing them (the
reconcile pipeline adds namespaces and tracking labels to its own copies).
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.model.app import SourceType
from tether.model.resources import Body


@dataclass(frozen=True)
class RenderResult:
    manifests: tuple[Body, ...]
    source_type: SourceType
    cache_hit: bool


@dataclass(frozen=True)
class Rendered:
    """One renderer's output before caching: the objects and how many bytes they came from."""

    manifests: list[Body]
    size: int  # bytes of YAML/JSON parsed; the render cache's memory bound counts these
