"""The render boundary: a source spec and a repository snapshot become Kubernetes objects.

Plain YAML/JSON directories, Kustomize and Helm are rendered as sandboxed, timed steps: every
path is resolved inside its snapshot (no `..`, absolute paths or escaping symlinks), tools run
in their own temporary directory and process group with a deadline and an output cap and no
network, and YAML is parsed safely with bounds on alias expansion and nesting. Results are
cached by commit, so an unchanged commit costs a dictionary lookup.

    result = await render.render(snapshot, source, render.RenderContext("web", "prod"))

This package never talks to a cluster; destination facts come in through RenderContext.
"""

from __future__ import annotations

from tether.render.errors import (
    InvalidManifest,
    InvalidSource,
    MissingDependency,
    NotFound,
    OutputTooLarge,
    PathEscape,
    RemoteReference,
    RenderError,
    RenderTimeout,
    TooComplex,
    ToolFailed,
    ToolMissing,
)
from tether.render.options import RenderContext, RenderLimits
from tether.render.renders import clear_cache, detect, render
from tether.render.results import RenderResult

__all__ = [
    "InvalidManifest",
    "InvalidSource",
    "MissingDependency",
    "NotFound",
    "OutputTooLarge",
    "PathEscape",
    "RemoteReference",
    "RenderContext",
    "RenderError",
    "RenderLimits",
    "RenderResult",
    "RenderTimeout",
    "TooComplex",
    "ToolFailed",
    "ToolMissing",
    "clear_cache",
    "detect",
    "render",
]
