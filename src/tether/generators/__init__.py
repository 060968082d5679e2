"""ApplicationSets' pure core: generators make parameter sets, templates make Applications of them.

Argo CD's field and parameter names throughout (design: docs/design/generators.md). The package
takes data and returns data, like `engine` and `policy` (an import-linter contract keeps it free
of subprocesses, the network and Kubernetes): the caller passes the clusters, repository file
trees and pull requests generators read (`Inputs`) and a `Templater` that evaluates Go
templates, the one effect, which tether implements with a sandboxed helper process
(`tether.render.templates`).

    needed = generators.needs(spec)              # what to fetch before generating
    apps = generators.generate(spec, inputs, templater)
    bodies = [app.manifest() for app in apps]

Every failure is a GeneratorError with a one-line message naming the generator, the element and
the template field; MissingInput says which repository or forge to fetch before trying again.
"""

from __future__ import annotations

from tether.generators.applications import GeneratedApplication
from tether.generators.documents import DocumentLimits
from tether.generators.elements import Limits
from tether.generators.errors import (
    DuplicateName,
    GeneratorError,
    InvalidDocument,
    InvalidSpec,
    MissingInput,
    TemplateFailed,
    TooMany,
)
from tether.generators.generation import SetSpec, generate, needs, parse
from tether.generators.inputs import (
    Cluster,
    FileTree,
    ForgeRepo,
    GitRef,
    Inputs,
    MemoryTree,
    Needs,
    PullRequest,
)
from tether.generators.templating import Batch, Failure, FailureKind, Template, Templater

__all__ = [
    "Batch",
    "Cluster",
    "DocumentLimits",
    "DuplicateName",
    "Failure",
    "FailureKind",
    "FileTree",
    "ForgeRepo",
    "GeneratedApplication",
    "GeneratorError",
    "GitRef",
    "Inputs",
    "InvalidDocument",
    "InvalidSpec",
    "Limits",
    "MemoryTree",
    "MissingInput",
    "Needs",
    "PullRequest",
    "SetSpec",
    "Template",
    "TemplateFailed",
    "Templater",
    "TooMany",
    "generate",
    "needs",
    "parse",
]
