"""One exception family for everything that stops an ApplicationSet from generating, one line each.

A set fails for reasons its author can act on: a spec that is not what Argo CD accepts, a
template that does not evaluate, two elements that make the same Application, an input the
caller did not provide. The controller puts the message in the set's status condition, so every
message names where the fault is (`spec.generators[0].matrix.generators[1]`, the element, the
template field) and never quotes parameter values: list elements and Git files may hold
anything, so only key names and the author's own template text appear.
"""

from __future__ import annotations


class GeneratorError(Exception):
    """The set cannot generate its Applications; the message says where and why."""


class InvalidSpec(GeneratorError):
    """The spec asks for something Argo CD would refuse, or that tether does not support."""


class InvalidDocument(GeneratorError):
    """A Git file, `elementsYaml` or templatePatch output is not YAML/JSON of the expected shape,
    or is too big; the message names the file and line, never its text."""


class TemplateFailed(GeneratorError):
    """A template did not evaluate: a parse error, a missing key, a bad type, a function error,
    a deadline, an output too large. `kind` is the Failure kind the templater reported."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class DuplicateName(GeneratorError):
    """Two elements of one set make Applications of the same name."""


class TooMany(GeneratorError):
    """The set would make more parameter sets or Applications than the configured limit."""


class MissingInput(GeneratorError):
    """A generator needs data the caller did not pass: a repository snapshot, the pull requests
    of a forge repository. `needed` names it, so the caller can fetch it and generate again."""

    def __init__(self, message: str, *, needed: object) -> None:
        super().__init__(message)
        self.needed = needed
