"""Templates in Argo CD's goTemplate style, evaluated through a Templater the caller provides.

Argo CD evaluates every string of an Application template (map keys included) as its own Go
`text/template`, with the parameter set as `.`; strings without `{{` come out unchanged, so
only the others are sent. Evaluation is an effect (tether runs the real text/template and Sprig
in a sandboxed helper process: `tether.render.templates`), so this package only describes the
work as a Batch (distinct templates x parameter sets, as jobs) and reads the results back into
place. One Batch per generator and phase keeps the helper round trips to a handful per set.

A template error becomes TemplateFailed naming the element and the field, with Go's own
explanation (`map has no entry for key "nme"`); parameter values that the error text happens
to contain are masked, since list elements and Git files may hold secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from tether.generators.errors import TemplateFailed
from tether.generators.params import Params, clone

OPTIONS = frozenset(
    {"missingkey=default", "missingkey=invalid", "missingkey=zero", "missingkey=error"}
)
_MASK_MIN = 4  # shorter parameter values are not masked (they would mask the message itself)
_MAX_MESSAGE = 400


class FailureKind(StrEnum):
    PARSE = "parse"  # the template does not parse (an unknown function, a stray `}}`)
    EXEC = "exec"  # executing failed: a missing key with missingkey=error, a bad type, `fail`
    TOO_LARGE = "tooLarge"  # one output or the whole batch exceeded its cap
    TIMEOUT = "timeout"  # the batch ran past its deadline
    CRASHED = "crashed"  # the evaluator died (out of memory) or broke protocol
    UNAVAILABLE = "unavailable"  # no evaluator could be started


@dataclass(frozen=True)
class Template:
    name: str  # the field it fills ("metadata.name"), which Go's error messages quote
    text: str


@dataclass(frozen=True)
class Batch:
    """Evaluate templates[t] on params[p] for each job (t, p), in order."""

    options: tuple[str, ...]
    params: tuple[Params, ...]
    templates: tuple[Template, ...]
    jobs: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Failure:
    """The first job that failed (-1 when no job can be blamed), and why."""

    job: int
    kind: FailureKind
    message: str


class Templater(Protocol):
    """Evaluates a Batch: every job's output in job order, or the first failure."""

    def render(self, batch: Batch) -> Sequence[str] | Failure: ...


@dataclass(frozen=True)
class Slot:
    """A templated string found in a tree: a value, or a mapping key (renamed once rendered)."""

    name: str
    text: str


@dataclass(frozen=True)
class Compiled:
    """A tree (an Application template, a generator spec) and the templated strings in it, in the
    order `fill` consumes their outputs."""

    tree: Any
    slots: tuple[Slot, ...]

    @classmethod
    def of(cls, tree: Any, root: str) -> Compiled:
        plain = clone(tree)  # dicts and lists only, so filling can test types cheaply
        return cls(plain, tuple(_slots(plain, root)))

    def fill(self, outputs: Iterator[str]) -> Any:
        """A fresh copy of the tree with each templated string replaced by the next output."""
        return _filled(self.tree, outputs) if self.slots else clone(self.tree)


def is_templated(text: str) -> bool:
    return "{{" in text


def render_trees(
    compiled: Sequence[Compiled],
    elements: Sequence[tuple[Params, str]],
    options: tuple[str, ...],
    templater: Templater,
) -> list[list[Any]]:
    """For each (params, where) element, each compiled tree filled in with that element's params:
    result[e][c]. One Batch for all of it; TemplateFailed on the first failure."""
    templates = [Template(s.name, s.text) for c in compiled for s in c.slots]
    if not templates or not elements:
        return [[c.fill(iter(())) for c in compiled] for _ in elements]
    jobs = tuple((t, e) for e in range(len(elements)) for t in range(len(templates)))
    batch = Batch(options, tuple(p for p, _ in elements), tuple(templates), jobs)
    outputs = templater.render(batch)
    if isinstance(outputs, Failure):
        raise _failed(outputs, batch, elements)
    if len(outputs) != len(jobs):
        raise TemplateFailed(
            f"the templater answered {len(outputs)} of {len(jobs)} templates", kind="crashed"
        )
    stream = iter(outputs)
    return [[c.fill(stream) for c in compiled] for _ in elements]


def _failed(
    failure: Failure, batch: Batch, elements: Sequence[tuple[Params, str]]
) -> TemplateFailed:
    if not 0 <= failure.job < len(batch.jobs):
        where = elements[0][1] if len(elements) == 1 else f"{len(elements)} elements"
        return TemplateFailed(f"{where}: {_clean(failure.message, None, batch)}", kind=failure.kind)
    template_index, element_index = batch.jobs[failure.job]
    params, where = elements[element_index]
    name = batch.templates[template_index].name
    message = _clean(failure.message, name, batch, params)
    return TemplateFailed(f"{where}: {name}: {message}", kind=failure.kind)


def _clean(message: str, name: str | None, batch: Batch, params: Params | None = None) -> str:
    """One line, without Go's `template: NAME:` prefix, parameter values masked, bounded."""
    text = " ".join(message.split())
    if name is not None:
        text = text.removeprefix(f"template: {name}:").strip()
    for value in sorted(_leaf_strings(params or {}), key=len, reverse=True):
        text = text.replace(value, "<value>")
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _leaf_strings(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaf_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaf_strings(item)
    elif isinstance(value, str) and len(value) >= _MASK_MIN:
        yield value
    elif isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= 1000:
        yield str(value)


def _slots(tree: Any, path: str) -> Iterator[Slot]:
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            child = _child(path, str(key))
            if isinstance(key, str) and is_templated(key):
                yield Slot(f"{child} (key)", key)
            yield from _slots(value, child)
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _slots(value, f"{path}[{index}]")
    elif isinstance(tree, str) and is_templated(tree):
        yield Slot(path, tree)


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _child(path: str, key: str) -> str:
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def _filled(tree: Any, outputs: Iterator[str]) -> Any:
    kind = type(tree)
    if kind is dict:
        result: dict[str, Any] = {}
        for key, value in tree.items():
            new_key = next(outputs) if type(key) is str and "{{" in key else key
            result[new_key] = _filled(value, outputs)
        return result
    if kind is list:
        return [_filled(v, outputs) for v in tree]
    if kind is str and "{{" in tree:
        return next(outputs)
    return tree
