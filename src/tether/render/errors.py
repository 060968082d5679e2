"""One exception family for everything that can stop a render, each a single readable line.

A render fails for reasons a user can act on: a path that leaves the repository, a file that is
missing, a manifest that is not a Kubernetes object, a tool that failed or took too long. Callers
branch on the type; the message names the repository path at fault. Messages never quote values
from manifests or tool output beyond a short stderr tail, because rendered Secrets pass through
here and error text ends up in status conditions and logs.
"""

from __future__ import annotations


class RenderError(Exception):
    """A render could not produce manifests; the message says which path and why."""


class PathEscape(RenderError):
    """A path from the spec or a repository file resolves outside its snapshot."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path  # the offending path as the spec or the repository spells it


class NotFound(RenderError):
    """A path, value file, kustomization or source ref the spec names does not exist."""


class InvalidSource(RenderError):
    """The source cannot be rendered as configured (ambiguous type, unsupported feature)."""


class RemoteReference(InvalidSource):
    """A URL where a file from the snapshot is required: renders never reach the network."""


class InvalidManifest(RenderError):
    """A document is not valid YAML/JSON or not a Kubernetes object."""


class TooComplex(InvalidManifest):
    """A document exceeds the node, depth or document limits (alias bombs, absurd nesting)."""


class OutputTooLarge(RenderError):
    """A tool wrote, or the repository holds, more bytes than the render limit allows."""


class RenderTimeout(RenderError):
    """The render did not finish in time; its tool's process group was killed."""


class ToolFailed(RenderError):
    """kustomize or helm exited non-zero; the message carries the tail of its stderr."""

    def __init__(self, message: str, *, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr  # the (scrubbed) tail of the tool's stderr, for callers to classify


class ToolMissing(ToolFailed):
    """The pinned tool binary cannot be found or executed."""


class MissingDependency(ToolFailed):
    """A Helm chart's dependencies are not vendored under charts/ (renders have no network)."""
